"""The shipped detector, end to end: offsets, formats, template labelling, batching, bad input."""

import json

import pytest
from typer.testing import CliRunner

import spinlens
from spinlens import Document, taxonomy
from spinlens.cli import app
from spinlens.formats import read_labels
from spinlens.formats.ptc import Label, write_labels

from .conftest import FIXTURES, REPO, assert_same_spans_in_any_context, short_text_quality

EXAMPLE = REPO / "src" / "spinlens" / "examples" / "op-ed.txt"


@pytest.fixture(scope="module")
def nlp():
    return spinlens.load()


@pytest.fixture(scope="module")
def example_analysis(nlp):
    return nlp(Document(id="op-ed", text=EXAMPLE.read_text(encoding="utf-8")))


def test_finds_spans_with_exact_offsets_in_the_example(example_analysis):
    a = example_analysis
    assert len(a.spans) >= 5, "the example op-ed is full of loaded language and name calling"
    for s in a.spans:
        assert 0 <= s.start < s.end <= len(a.document.text)
        assert s.technique in taxonomy.PTC14
        assert 0.0 <= s.score <= 1.0
        fragment = a.document.text[s.start : s.end]
        assert fragment == fragment.strip(), "spans neither start nor end on whitespace"
        assert s.note and s.technique.replace("_", " ") in s.note
    assert len(a.techniques) == 14 and {v.technique for v in a.techniques} == set(taxonomy.PTC14)
    assert 0.2 < a.propaganda_score <= 1.0  # the best-supported technique's probability, from its spans
    assert any(v.present for v in a.techniques)


def test_every_span_has_two_confidences_and_every_verdict_a_span(example_analysis):
    a = example_analysis
    for s in a.spans:
        assert 0 < s.span_confidence <= 1 and 0 < s.technique_confidence <= 1
        assert s.score == pytest.approx(s.span_confidence * s.technique_confidence, abs=2e-4)
    backed = {s.technique for s in a.spans}
    assert {v.technique for v in a.techniques if v.present} == backed, "present exactly when a span shows it"
    for v in a.techniques:
        assert (v.probability > 0) == v.present


def test_a_paragraph_gets_the_same_spans_alone_inside_a_page_and_inside_a_feed(nlp, example_analysis):
    text = example_analysis.document.text
    assert_same_spans_in_any_context(nlp, max(text.split("\n\n"), key=len))  # the op-ed's longest paragraph


def test_a_neutral_text_gets_no_span_a_zero_score_and_says_so():
    text = "The library opens at nine on weekdays and at ten on Saturdays."
    res = CliRunner().invoke(app, ["analyze", "-", "--format", "json"], input=text)
    assert res.exit_code == 0, res.output
    record = json.loads(res.stdout)
    assert record["spans"] == [] and record["propaganda_score"] == 0.0
    assert record["summary"] == "no technique found"
    assert not any(v["present"] for v in record["techniques"])


def test_offsets_survive_a_bom_and_crlf(nlp):
    text = EXAMPLE.read_text(encoding="utf-8")
    shifted = "\ufeff" + text.replace("\n", "\r\n")
    a = nlp(shifted)
    assert a.spans, "same article, different line endings: still finds spans"
    for s in a.spans:
        frag = shifted[s.start : s.end]
        assert frag and frag == frag.strip() and "\ufeff" not in frag


def test_pipe_gives_the_same_answers_as_single_calls(nlp, example_analysis):
    docs = [
        Document(id="a", text=(FIXTURES / "article900000001.txt").read_text(encoding="utf-8")),
        example_analysis.document,
        Document(id="c", text="Short text."),
    ]
    batched = list(nlp.pipe(docs, batch_size=3))
    assert [a.document.id for a in batched] == ["a", "op-ed", "c"]
    assert [(s.start, s.end, s.technique) for s in batched[1].spans] == [
        (s.start, s.end, s.technique) for s in example_analysis.spans
    ]
    for a, d in zip(batched, docs, strict=True):
        single = nlp(d)
        assert [(s.start, s.end, s.technique) for s in a.spans] == [(s.start, s.end, s.technique) for s in single.spans]
        assert [s.score for s in a.spans] == pytest.approx([s.score for s in single.spans], abs=1e-3)


def test_long_article_is_handled_in_windows(nlp):
    text = EXAMPLE.read_text(encoding="utf-8") * 12  # ~4,000 wordpieces, many windows
    a = nlp(text)
    period = len(EXAMPLE.read_text(encoding="utf-8"))
    late = [s for s in a.spans if s.start > 8 * period]
    assert late, "spans are found far beyond the first window"


def test_empty_text_is_refused(nlp):
    with pytest.raises(spinlens.InputError, match="empty"):
        nlp("   ")


def test_the_default_tier_names_techniques_on_our_short_texts(nlp):
    """Quality, not shape (issue 10, item 5). Measured on version 2: 64 of 101 phrases labelled with their technique,
    32 found by detection, 0 spans on 54 neutral texts; a regression of a few points fails here."""
    q = short_text_quality(nlp)
    assert q["labelled"] >= 55, q
    assert q["found"] >= 25, q
    assert q["neutral_spans"] <= 3, q


def test_cli_json_ptc_and_stdin(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["analyze", str(EXAMPLE), "--format", "json"])
    assert res.exit_code == 0, res.output
    record = json.loads(res.stdout)
    text = EXAMPLE.read_text(encoding="utf-8")
    for s in record["spans"]:
        assert text[s["start"] : s["end"]] == s["text"]
        assert s["category"] and s["definition"]
        assert 0 < s["span_confidence"] <= 1 and 0 < s["technique_confidence"] <= 1
    for v in record["techniques"]:  # every verdict lists the spans behind it
        assert bool(v["evidence"]) == v["present"]
        assert all(record["spans"][i]["technique"] == v["technique"] for i in v["evidence"])
    out = tmp_path / "pred.txt"
    res = runner.invoke(app, ["analyze", str(FIXTURES), "--format", "ptc", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert f"wrote {out}" in res.stderr, "says where the output went"
    for line in out.read_text().splitlines():
        aid, tech, start, end = line.split("\t")
        assert aid in ("900000001", "900000002") and tech in taxonomy.PTC14 and int(start) < int(end)
    res = runner.invoke(app, ["analyze", "-", "--format", "jsonl"], input=text)
    assert res.exit_code == 0 and json.loads(res.stdout.splitlines()[0])["id"] == "stdin"


def test_cli_labels_a_span_template_line_for_line(tmp_path):
    labels = read_labels(FIXTURES / "article900000001.task-flc-tc.labels")
    template = [Label(x.article_id, x.start, x.end) for x in labels]
    template.append(template[0])  # the same span twice: two different techniques expected
    write_labels(template, tmp_path / "template.txt", template=True)
    res = CliRunner().invoke(
        app, ["analyze", str(FIXTURES), "--format", "ptc", "--spans", str(tmp_path / "template.txt")]
    )
    assert res.exit_code == 0, res.output
    lines = [line.split("\t") for line in res.stdout.splitlines()]
    assert [(x[0], int(x[2]), int(x[3])) for x in lines] == [(t.article_id, t.start, t.end) for t in template]
    assert all(x[1] in taxonomy.PTC14 for x in lines)
    assert lines[0][1] != lines[-1][1]


def test_cli_html_escapes_hostile_text(tmp_path):
    hostile = tmp_path / "article1.txt"
    payload = '<script>alert(1)</script><img src=x onerror="alert(2)"> <a href="javascript:alert(3)">x</a>'
    hostile.write_text("The corrupt regime lies " + payload + " every single day!\n", encoding="utf-8")
    out = tmp_path / "page.html"
    res = CliRunner().invoke(app, ["analyze", str(hostile), "--format", "html", "-o", str(out)])
    assert res.exit_code == 0, res.output
    page = out.read_text()
    assert "<script>" not in page and "<img" not in page and 'href="javascript' not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "script-src" not in page and "default-src 'none'" in page


def test_cli_bad_input_is_one_clear_line(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    res = CliRunner().invoke(app, ["analyze", str(tmp_path / "empty.txt")])
    assert res.exit_code == 2 and "empty.txt: file is empty" in res.output and "Traceback" not in res.output
    (tmp_path / "nothing").mkdir()
    res = CliRunner().invoke(app, ["analyze", str(tmp_path / "nothing")])
    assert res.exit_code == 2 and "no *.txt articles" in res.output


def test_incomplete_model_directory_is_named(tmp_path):
    from spinlens.detect.pipeline import MODELS_DIR, Detector

    (tmp_path / "config.json").write_text((MODELS_DIR / "ptc-minilm-bilstm" / "config.json").read_text())
    with pytest.raises(spinlens.InputError, match="missing techniques.npz, tagger-0.safetensors"):
        Detector(tmp_path)
    with pytest.raises(spinlens.InputError, match="no config.json"):
        Detector(tmp_path / "nowhere")


def test_a_model_directory_from_another_version_is_named(tmp_path):
    from spinlens.detect.pipeline import MODELS_DIR, Detector

    config = json.loads((MODELS_DIR / "ptc-minilm-bilstm" / "config.json").read_text())
    config["params"]["relative_threshold"] = 0.8  # a decision parameter of version 1
    (tmp_path / "config.json").write_text(json.dumps(config))
    for name in ("techniques.npz", "tagger-0.safetensors"):
        (tmp_path / name).write_bytes((MODELS_DIR / "ptc-minilm-bilstm" / name).read_bytes())
    with pytest.raises(spinlens.InputError, match="another spinlens version"):
        Detector(tmp_path)


def test_a_label_quoted_from_a_named_speaker_is_noted_not_marked_and_marked_in_the_texts_own_voice(nlp):
    """Wire copy quotes an official's label to report it; a state-media text uses it. The quoted label gets no span
    but a note naming it (a wire report does not come back "nothing found" in silence); unquoted, in indirect
    speech or the text's own voice, it is marked."""
    quoted = 'Zakharova said the "Kiev regime" shells its own cities.'
    a = nlp(quoted)
    label = quoted.index("Kiev regime")
    assert not [s for s in a.spans if s.start < label + len("Kiev regime") and label < s.end]
    assert len(a.notes) == 1 and '"Kiev regime" (Name Calling / Labeling)' in a.notes[0], a.notes
    assert "reported speech" in a.notes[0]
    for own in ("Zakharova said the Kiev regime shells its own cities.", "The Kiev regime shells its own cities."):
        found = [own[s.start : s.end] for s in nlp(own).spans if s.technique == "Name_Calling,Labeling"]
        assert "Kiev regime" in found, (own, found)
        assert not nlp(own).notes
