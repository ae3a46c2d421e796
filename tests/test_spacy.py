"""The spaCy component: ``nlp.add_pipe("spinlens")`` puts spinlens spans on spaCy docs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

spacy = pytest.importorskip("spacy")

from spacy.tokens import Doc, DocBin  # noqa: E402

import spinlens  # noqa: E402
from spinlens.detect.pipeline import model_path  # noqa: E402
from spinlens.document import Analysis, Span  # noqa: E402
from spinlens.errors import InputError  # noqa: E402
from spinlens.spacy_component import align_spans  # noqa: E402

OP_ED = (Path(spinlens.__file__).parent / "examples" / "op-ed.txt").read_text(encoding="utf-8")
PARAGRAPHS = [p for p in OP_ED.split("\n\n") if p.strip()]


def triples(doc: Doc) -> list[tuple[int, int, str]]:
    return [(s.start_char, s.end_char, s.label_) for s in doc.spans["spinlens"]]


@pytest.fixture(scope="module")
def nlp() -> spacy.language.Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("spinlens", config={"model": "default"})
    return nlp


@pytest.fixture(scope="module")
def analysis() -> Analysis:
    return spinlens.load("default")(OP_ED)


@pytest.fixture(scope="module")
def op_ed_doc(nlp: spacy.language.Language) -> Doc:
    return nlp(OP_ED)


def test_factory_registered_through_entry_point() -> None:
    code = (
        "import sys, spacy\n"
        "assert 'spinlens' not in sys.modules\n"
        "nlp = spacy.blank('en')  # imports the spacy_factories entry points\n"
        "print(type(nlp.add_pipe('spinlens')).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "SpinlensComponent"


def test_spans_match_detector_spans_exactly(op_ed_doc: Doc, analysis: Analysis) -> None:
    assert analysis.spans, "the example should have spans"
    assert triples(op_ed_doc) == [(s.start, s.end, s.technique) for s in analysis.spans]
    attrs = op_ed_doc.spans["spinlens"].attrs
    assert attrs["scores"] == [s.score for s in analysis.spans]
    assert attrs["span_confidence"] == [s.span_confidence for s in analysis.spans]
    assert attrs["technique_confidence"] == [s.technique_confidence for s in analysis.spans]
    assert not any(info["expanded"] for info in op_ed_doc._.spinlens["spans"])
    assert op_ed_doc._.spinlens["unmapped"] == []


def test_article_results_in_doc_extension(op_ed_doc: Doc, analysis: Analysis) -> None:
    result = op_ed_doc._.spinlens
    detector = spinlens.load("default")
    assert (result["model"], result["model_version"]) == (detector.name, detector.version)
    assert result["propaganda_score"] == analysis.propaganda_score
    present = {v["technique"]: v["probability"] for v in result["techniques"] if v["present"]}
    assert present == {v.technique: v.probability for v in analysis.techniques if v.present}
    assert op_ed_doc.has_annotation("SENT_START"), "the sentencizer before spinlens still ran"


def test_nlp_pipe_batches_and_matches_one_by_one(nlp: spacy.language.Language, monkeypatch) -> None:
    texts = [*PARAGRAPHS[1:4], ""]
    one_by_one = [nlp(text) for text in texts]
    component = nlp.get_pipe("spinlens")
    calls: list[list[str]] = []
    real_pipe = component.detector.pipe

    def spy(documents, batch_size: int = 8):  # type: ignore[no-untyped-def]
        calls.append(list(documents))
        return real_pipe(calls[-1], batch_size=batch_size)

    monkeypatch.setattr(component.detector, "pipe", spy)
    piped = list(nlp.pipe(texts))
    assert calls == [texts[:3]], "one detector.pipe call for the batch, blank text left out"
    assert [triples(d) for d in piped] == [triples(d) for d in one_by_one]
    assert [d._.spinlens for d in piped] == [d._.spinlens for d in one_by_one]
    assert piped[-1]._.spinlens["spans"] == [] and len(piped[-1].spans["spinlens"]) == 0


def test_align_spans_strict_expanded_and_unmapped() -> None:
    doc = spacy.blank("en").make_doc("A well-known  liar lies.")
    spans = [
        Span(start=2, end=12, technique="Exact", score=0.5),  # "well-known"
        Span(start=7, end=16, technique="Inside", score=0.25),  # "known  li": ends inside "liar"
        Span(start=12, end=13, technique="Blank"),  # only whitespace
    ]
    group, infos, unmapped = align_spans(doc, spans)
    assert [(s.text, s.label_) for s in group] == [("well-known", "Exact"), ("known  liar", "Inside")]
    assert [info["expanded"] for info in infos] == [False, True]
    assert (infos[1]["start"], infos[1]["end"]) == (7, 16), "original offsets are kept"
    assert (infos[1]["start_char"], infos[1]["end_char"]) == (7, 18)
    assert group.attrs["scores"] == [0.5, 0.25]
    assert [(u["start"], u["end"], u["technique"]) for u in unmapped] == [(12, 13, "Blank")]


def test_span_inside_token_is_expanded_with_space_tokenizer(analysis: Analysis) -> None:
    nlp = spacy.blank("en")

    def by_space(text: str) -> Doc:
        words = text.split(" ")
        return Doc(nlp.vocab, words=words, spaces=[True] * (len(words) - 1) + [False])

    nlp.tokenizer = by_space
    nlp.add_pipe("spinlens", config={"model": "default"})
    doc = nlp(OP_ED)
    infos = doc._.spinlens["spans"]
    bounds = {t.idx for t in doc} | {t.idx + len(t) for t in doc}
    expected = [not (s.start in bounds and s.end in bounds) for s in analysis.spans]
    assert any(expected), "some span should end inside a token such as 'blackmail.'"
    assert [info["expanded"] for info in infos] == expected
    assert [(i["start"], i["end"]) for i in infos] == [(s.start, s.end) for s in analysis.spans]
    for span, info in zip(doc.spans["spinlens"], infos, strict=True):
        assert span.start_char <= info["start"] and info["end"] <= span.end_char


def test_to_disk_and_spacy_load_round_trip(nlp: spacy.language.Language, tmp_path: Path) -> None:
    nlp.to_disk(tmp_path / "pipeline")
    assert not any((tmp_path / "pipeline").rglob("*.safetensors")), "the model is referenced, not copied"
    loaded = spacy.load(tmp_path / "pipeline")
    assert loaded.pipe_names == ["sentencizer", "spinlens"]
    assert loaded.config["components"]["spinlens"]["model"] == "default"
    text = PARAGRAPHS[4]
    assert triples(loaded(text)) == triples(nlp(text))


def test_docbin_keeps_spans_and_results(op_ed_doc: Doc) -> None:
    data = DocBin(store_user_data=True, docs=[op_ed_doc]).to_bytes()
    (doc,) = DocBin().from_bytes(data).get_docs(spacy.blank("en").vocab)
    assert triples(doc) == triples(op_ed_doc)
    assert doc.spans["spinlens"].attrs == op_ed_doc.spans["spinlens"].attrs
    assert json.loads(json.dumps(doc._.spinlens)) == op_ed_doc._.spinlens, "msgpack gives tuples for lists"


def test_model_given_as_directory() -> None:
    directory = model_path("default")
    component = spacy.blank("en").add_pipe("spinlens", config={"model": str(directory)})
    assert component.detector.model_dir.resolve() == directory.resolve()


def test_unknown_model_gives_input_error() -> None:
    with pytest.raises(InputError, match="no model 'no-such-model'") as error:
        spacy.blank("en").add_pipe("spinlens", config={"model": "no-such-model"})
    assert "\n" not in str(error.value)
