"""Reviewed analyses out to PTC files, spaCy and Label Studio, and Label Studio's export back in as corrections.

The rule under test everywhere: only what a person decided becomes a label; the model's own output never does.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spinlens import taxonomy
from spinlens.cli import app
from spinlens.corrections import Correction, CorrectionIn, corrected_spans
from spinlens.document import Analysis, Document, Span
from spinlens.errors import InputError
from spinlens.exchange.labelstudio import label_config, read_export
from spinlens.exchange.review import corrections_to_reach
from spinlens.review import tables
from spinlens.review.state import review
from spinlens.store import Store

TEXT1 = "They lie about the Kiev regime, as always. Only traitors doubt it."
TEXT2 = "Patriots stand firm while cowards flee."
TEXT3 = "Nobody corrected this one, the cowards."
SPANS1 = [
    Span(start=5, end=8, technique="Loaded_Language", score=0.9),  # lie
    Span(start=19, end=30, technique="Name_Calling,Labeling", score=0.8),  # Kiev regime
    Span(start=19, end=30, technique="Doubt", score=0.3),  # the same passage, a second technique
    Span(start=48, end=56, technique="Name_Calling,Labeling", score=0.7),  # traitors
    Span(start=43, end=56, technique="Repetition", score=0.2),  # Only traitors
]
SPANS2 = [
    Span(start=0, end=8, technique="Flag-Waving", score=0.95),  # Patriots
    Span(start=27, end=33, technique="Name_Calling,Labeling", score=0.6),  # "owards": not on token edges
]
SPANS3 = [Span(start=30, end=37, technique="Name_Calling,Labeling", score=0.52)]  # cowards: the most uncertain


def _analysis(text: str, spans: list[Span], doc_id: str) -> Analysis:
    return Analysis(
        document=Document(id=doc_id, text=text, title=f"title {doc_id}"),
        spans=spans,
        model="m",
        model_version="2",
        propaganda_score=max((s.score for s in spans), default=0.0),
    )


ANALYSES = [_analysis(TEXT1, SPANS1, "a1"), _analysis(TEXT2, SPANS2, "a2"), _analysis(TEXT3, SPANS3, "a3")]


def _save_all(url: str) -> tuple[Store, list[int]]:
    store = Store(url)
    return store, [store.save(a) for a in ANALYSES]


def _state(store: Store, analysis_id: int) -> list[tuple[int, int, list[str]]]:
    analysis = store.get(analysis_id)
    assert analysis is not None
    spans = corrected_spans(analysis.document.text, analysis.spans, store.corrections(analysis_id))
    return [(s.start, s.end, s.techniques) for s in spans]


def _review_two_of_three(store: Store, ids: list[int]) -> None:
    """a1: every kind of correction, a withdrawn addition, then marked complete by bob (the two spans left are
    accepted by him); a2: one correction, review not complete; a3: nobody looked at it."""
    a1, a2, _ = ids
    for c in [
        {"kind": "accept", "span": 0},
        {"kind": "relabel", "span": 1, "techniques": ["Name_Calling,Labeling", "Loaded_Language"]},
        {"kind": "reject", "span": 2},
        {"kind": "move", "span": 4, "start": 48, "end": 62},
        {"kind": "add", "start": 32, "end": 41, "techniques": ["Repetition"]},
    ]:
        store.add_correction(a1, CorrectionIn.model_validate(c), author="alice")
    withdrawn = store.add_correction(a1, CorrectionIn(kind="add", start=57, end=62, techniques=["Doubt"]))
    store.add_correction(a1, CorrectionIn(kind="reject", added=withdrawn.id))
    _, accepted = tables.mark_complete(store, [a1], "bob")
    assert accepted == 1  # span 3 ("traitors"): nobody had looked at it
    store.add_correction(a2, CorrectionIn(kind="accept", span=0), author="carol")


# what people decided in a1, and nothing else: (start, end, technique)
A1_LABELS = {
    (5, 8, "Loaded_Language"),  # accepted by alice
    (19, 30, "Name_Calling,Labeling"),  # relabelled by alice (two techniques: two labels)
    (19, 30, "Loaded_Language"),
    (48, 56, "Name_Calling,Labeling"),  # accepted by bob when he marked the review complete
    (48, 62, "Repetition"),  # moved by alice
    (32, 41, "Repetition"),  # added by alice
}


@pytest.fixture
def reviewed(tmp_path: Path) -> tuple[Store, list[int], str]:
    url = f"sqlite:///{tmp_path / 'origin.db'}"
    store, ids = _save_all(url)
    _review_two_of_three(store, ids)
    return store, ids, url


def _cli(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, list(args))
    return res.exit_code, res.output


def _export_tasks(url: str, out: Path, *extra: str) -> list[dict]:
    code, output = _cli("export", "--format", "labelstudio", "-o", str(out), "--db", url, *extra)
    assert code == 0, output
    return json.loads(out.read_text(encoding="utf-8"))


def _submit(task: dict, who: object = 7, drop: int | None = None, add: dict | None = None) -> dict:
    """The task as Label Studio exports it once ``who`` submitted it: the predicted regions, less ``drop``, plus ``add``."""
    regions = [r for n, r in enumerate(task["predictions"][0]["result"]) if n != drop]
    regions = [{k: v for k, v in r.items() if k not in ("score", "origin")} for r in regions]
    if add:
        regions.append({"type": "labels", "from_name": "label", "to_name": "text", "value": add})
    done = copy.deepcopy(task)
    now = dt.datetime.now(dt.UTC).isoformat()
    done["annotations"] = [{"completed_by": who, "updated_at": now, "result": regions}]
    return done


def test_only_human_decisions_are_exported_and_an_untouched_export_imports_as_nothing(db_url, tmp_path):
    """The issue's check, on SQLite and PostgreSQL: 2 of 3 analyses reviewed (one complete, one with a single
    correction); PTC holds exactly the complete review's human decisions; Label Studio gets predictions only;
    importing that export untouched stores nothing."""
    from spinlens.formats.ptc import read_articles, read_labels

    store, ids = _save_all(db_url)
    _review_two_of_three(store, ids)
    a1, a2, a3 = ids

    code, output = _cli("export", "--format", "ptc", "-o", str(tmp_path / "ptc"), "--db", db_url)
    assert code == 0, output
    assert "left out 1 analyses with corrections but no 'review complete' mark" in " ".join(output.split())
    articles = read_articles(tmp_path / "ptc" / "articles")
    assert list(articles) == [str(a1)]  # a2 (one correction, review not complete) and a3 (untouched) stay out
    labels = read_labels(tmp_path / "ptc" / "corrections.labels", articles)
    assert {(x.start, x.end, x.technique) for x in labels} == A1_LABELS
    assert (19, 30, "Doubt") not in {(x.start, x.end, x.technique) for x in labels}  # rejected: a negative

    tasks = _export_tasks(db_url, tmp_path / "review.json", "--include-complete")
    assert [t["data"]["spinlens_analysis"] for t in tasks] == [a3, a2, a1]  # most uncertain first; a1 is done
    assert all("annotations" not in t for t in tasks)  # Label Studio would count a pre-filled one as done
    for t in tasks:
        (prediction,) = t["predictions"]
        assert prediction["model_version"] == "m 2" and 0 <= prediction["score"] <= 1
        assert all(0 <= r["score"] <= 1 for r in prediction["result"])
    by_id = {t["data"]["spinlens_analysis"]: t for t in tasks}
    assert by_id[a3]["data"]["title"] == "title a3"
    assert [r["value"]["labels"] for r in by_id[a3]["predictions"][0]["result"]] == [["Name Calling / Labeling"]]
    assert [r["score"] for r in by_id[a3]["predictions"][0]["result"]] == [0.52]
    assert by_id[a3]["predictions"][0]["score"] < by_id[a2]["predictions"][0]["score"]
    # what people decided is predicted with certainty; the rejected span is not predicted again
    assert {r["score"] for r in by_id[a1]["predictions"][0]["result"]} == {1.0}
    assert (19, 30, ["Doubt"]) not in [
        (r["value"]["start"], r["value"]["end"], r["value"]["labels"]) for r in by_id[a1]["predictions"][0]["result"]
    ]

    before = [store.corrections(i) for i in ids], tables.marks(store)
    code, output = _cli("import", "labelstudio", str(tmp_path / "review.json"), "--db", db_url)
    assert code == 0, output
    assert "stored 0 corrections" in output and "3 tasks skipped" in output
    assert ([store.corrections(i) for i in ids], tables.marks(store)) == before


def test_ptc_export_trains_and_never_mixes_with_old_files(reviewed, tmp_path):
    from spinlens.detect.encoder import Encoder
    from spinlens.training.examples import extra_examples

    store, ids, url = reviewed
    out = tmp_path / "ptc"
    code, output = _cli("export", "--corrections", "--format", "ptc", "-o", str(out), "--db", url)  # the old flag
    assert code == 0, output
    examples = extra_examples(out, Encoder(threads=1), cache_dir=tmp_path / "cache")
    assert [e.document.id for e in examples] == [f"extra-{ids[0]}"]
    assert sum(len(e.labels) for e in examples) == len(A1_LABELS)
    code, output = _cli("export", "--format", "ptc", "-o", str(out), "--db", url)
    assert code == 2 and "not an empty folder" in output


def test_ptc_labels_say_a_label_once():
    from spinlens.exchange.ptc import ptc_labels

    twice = CorrectionIn(kind="relabel", span=1, techniques=["Doubt"])  # the passage has a Doubt span already
    stored = [
        Correction(
            **c.model_dump(),
            id=i,
            analysis_id=1,
            model="m",
            model_version="2",
            author="a",
            created=dt.datetime.now(dt.UTC),
        )
        for i, c in enumerate([twice, CorrectionIn(kind="accept", span=2)], start=1)
    ]
    labels = ptc_labels([review(ANALYSES[0], stored, analysis_id=1)])
    assert [(x.start, x.end, x.technique) for x in labels] == [(19, 30, "Doubt")]  # and no unreviewed span


def test_spacy_docbin_holds_human_decisions_and_rejections(reviewed, tmp_path):
    spacy = pytest.importorskip("spacy")
    from spacy.tokens import DocBin

    store, ids, url = reviewed
    code, output = _cli("export", "--format", "spacy", "-o", str(tmp_path / "out"), "--db", url)
    assert code == 0, output
    (doc,) = DocBin().from_disk(tmp_path / "out.spacy").get_docs(spacy.blank("en").vocab)
    assert (doc.text, doc.user_data["spinlens_analysis"], doc.user_data["spinlens_review_complete"]) == (
        TEXT1,
        ids[0],
        True,
    )
    assert {(s.start_char, s.end_char, s.label_) for s in doc.spans["spinlens"]} == A1_LABELS
    assert [(s.start_char, s.end_char, s.label_) for s in doc.spans["spinlens_rejected"]] == [(19, 30, "Doubt")]


def test_exports_choose_analyses_and_say_what_they_cannot_do(reviewed, tmp_path):
    store, ids, url = reviewed
    assert [t["data"]["spinlens_analysis"] for t in _export_tasks(url, tmp_path / "q.json", "-q", "PATRIOTS")] == [
        ids[1]
    ]
    code, output = _cli("export", "-f", "labelstudio", "-o", str(tmp_path / "d.json"), "--db", url)
    assert code == 0 and "left out 1 analyses whose review is complete" in " ".join(output.split()), output
    assert [t["data"]["spinlens_analysis"] for t in json.loads((tmp_path / "d.json").read_text())] == [ids[2], ids[1]]
    assert [t["data"]["spinlens_analysis"] for t in _export_tasks(url, tmp_path / "i.json", "--id", str(ids[0]))] == [
        ids[0]
    ]
    assert [t["data"]["spinlens_analysis"] for t in _export_tasks(url, tmp_path / "l.json", "--limit", "1")] == [ids[2]]
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    for args, message in [
        (["--format", "ptc", "--db", empty], "no reviewed analyses to export"),
        (["--format", "ptc", "--id", str(ids[1]), "--db", url], "no analysis with a complete review"),
        (["--format", "labelstudio", "--id", "999", "--db", url], "no analysis 999"),
        (["--format", "labelstudio", "--db", empty], "no stored analysis"),
        (["--corrections", "--db", url], "--corrections needs --format"),
        (["--limit", "3", "--db", url], "not parquet"),
        (["--format", "ptc", "--limit", "3", "--db", url], "are for --format labelstudio"),
        (
            ["--format", "labelstudio", "-q", "Kiev regime", "--db", url],
            "(all of them are reviewed: --include-complete",
        ),
    ]:
        code, output = _cli("export", "-o", str(tmp_path / "x"), *args)
        assert code == 2 and message in " ".join(output.split()), (args, output)
        assert "Traceback" not in output


def test_a_submitted_task_is_the_annotator_s_decision_and_completes_the_review(reviewed, tmp_path):
    store, (a1, a2, a3), url = reviewed
    exported = _export_tasks(url, tmp_path / "review.json", "--include-complete")
    tasks = {t["data"]["spinlens_analysis"]: t for t in exported}
    # a3 submitted by user 7 with its one region untouched; a2 submitted with "cowards" (the model's "owards")
    # deleted and "stand firm" added; a pre-filled annotation without annotator and a skipped one count for nothing
    a2_done = _submit(
        tasks[a2], who={"id": 8, "email": "dana@example.org"}, drop=1, add=_value(TEXT2, 9, 19, "Slogans")
    )
    prefilled = _submit(tasks[a1], who=None, drop=0)
    skipped = _submit(tasks[a1], who=9, drop=0)
    skipped["annotations"][0]["was_cancelled"] = True
    export = tmp_path / "from-ls.json"
    export.write_text(json.dumps([_submit(tasks[a3]), a2_done]))
    code, output = _cli("import", "labelstudio", str(export), "--db", url, "--dry-run")
    assert code == 0 and "would store 3 corrections (1 accept, 1 reject, 1 add) of 2 submitted tasks" in output, output
    assert (len(store.corrections(a2)), store.corrections(a3), a3 in tables.marks(store)) == (1, [], False)
    code, output = _cli("import", "labelstudio", str(export), "--db", url)
    assert code == 0 and "stored 3 corrections (1 accept, 1 reject, 1 add)" in output, output
    assert [(c.kind.value, c.span, c.author) for c in store.corrections(a3)] == [("accept", 0, "labelstudio:7")]
    assert [(c.kind.value, c.author) for c in store.corrections(a2)] == [
        ("accept", "carol"),
        ("reject", "labelstudio:dana@example.org"),
        ("add", "labelstudio:dana@example.org"),
    ]
    marks = tables.marks(store)
    assert (marks[a3].author, marks[a2].author, marks[a1].author) == (
        "labelstudio:7",
        "labelstudio:dana@example.org",
        "bob",
    )
    before = [store.corrections(i) for i in (a1, a2, a3)]
    for other in ([prefilled], [skipped]):
        export.write_text(json.dumps(other))
        code, output = _cli("import", "labelstudio", str(export), "--db", url)
        assert code == 0 and "stored 0 corrections" in output, output
    assert [store.corrections(i) for i in (a1, a2, a3)] == before


def _value(text: str, start: int, end: int, label: str) -> dict:
    return {"start": start, "end": end, "text": text[start:end], "labels": [taxonomy.display_name(label)]}


def test_annotators_are_named_by_email_with_label_studio_s_users(reviewed, tmp_path):
    store, (_, _, a3), url = reviewed
    tasks = {t["data"]["spinlens_analysis"]: t for t in _export_tasks(url, tmp_path / "review.json")}
    (tmp_path / "from-ls.json").write_text(json.dumps([_submit(tasks[a3], who=7)]))
    (tmp_path / "users.json").write_text(json.dumps([{"id": 7, "email": "erin@example.org", "username": "erin"}]))
    (tmp_path / "bad-users.json").write_text(json.dumps([{"id": 7}]))
    code, output = _cli(
        "import",
        "labelstudio",
        str(tmp_path / "from-ls.json"),
        "--db",
        url,
        "--users",
        str(tmp_path / "bad-users.json"),
    )
    assert code == 2 and "user #1: expected an object with 'id' and 'email'" in output and store.corrections(a3) == []
    code, output = _cli(
        "import", "labelstudio", str(tmp_path / "from-ls.json"), "--db", url, "--users", str(tmp_path / "users.json")
    )
    assert code == 0, output
    assert {c.author for c in store.corrections(a3)} == {"labelstudio:erin@example.org"}
    assert tables.marks(store)[a3].author == "labelstudio:erin@example.org"


def test_an_old_export_read_again_never_undoes_a_later_decision(reviewed, tmp_path):
    store, (a1, a2, a3), url = reviewed
    tasks = {t["data"]["spinlens_analysis"]: t for t in _export_tasks(url, tmp_path / "review.json")}
    export = tmp_path / "from-ls.json"
    export.write_text(json.dumps([_submit(tasks[a3])]))  # user 7 accepts the one span of a3
    assert _cli("import", "labelstudio", str(export), "--db", url)[0] == 0
    store.add_correction(a3, CorrectionIn(kind="reject", span=0), author="alice")  # then alice rejects it
    code, output = _cli("import", "labelstudio", str(export), "--db", url)
    assert code == 0 and "stored 0 corrections" in output, output
    assert "1 left alone, submitted before a later correction in spinlens: task #1" in output
    assert _state(store, a3) == []  # alice's decision stands


def test_the_review_complete_mark_accepts_what_is_left_and_can_be_taken_back(reviewed):
    store, (a1, a2, a3), _ = reviewed
    marks, accepted = tables.mark_complete(store, [a2], "erin")
    assert accepted == 1 and marks[0].author == "erin"  # span 1 of a2 was not reviewed; span 0 was (carol)
    state = tables.load(store, a2)
    assert [(s.status, s.author) for s in state.spans] == [("accepted", "carol"), ("accepted", "erin")]
    assert tables.clear_complete(store, a2) and not tables.clear_complete(store, a2)
    assert tables.load(store, a2).mark is None and len(store.corrections(a2)) == 2  # the corrections stay
    with pytest.raises(InputError, match="no analysis 999"):
        tables.mark_complete(store, [a3, 999], "erin")
    assert tables.load(store, a3).corrections == [] and tables.load(store, a3).mark is None  # nothing half-done
    assert store.delete(a1) and a1 not in tables.marks(store)


def test_reviewed_regions_become_the_fewest_corrections():
    regions = [
        (5, 8, ["Loaded_Language"]),  # unchanged: accept
        (19, 30, ["Slogans"]),  # same passage, other technique: relabel (of the first span there)
        # (19, 30, Doubt) gone: reject; (48, 56) gone and (43, 56) moved: reject + add
        (43, 62, ["Repetition"]),
        (32, 41, ["Repetition", "Doubt"]),  # new: add
    ]
    out = corrections_to_reach(TEXT1, SPANS1, [], regions)
    assert [(c.kind.value, c.span, c.start, c.end, c.techniques) for c in out] == [
        ("accept", 0, None, None, []),
        ("relabel", 1, None, None, ["Slogans"]),
        ("reject", 2, None, None, []),
        ("reject", 3, None, None, []),
        ("reject", 4, None, None, []),
        ("add", None, 43, 62, ["Repetition"]),
        ("add", None, 32, 41, ["Repetition", "Doubt"]),
    ]


def test_read_export_takes_the_latest_annotation_and_its_author():
    analysis = ANALYSES[1]
    region = {"type": "labels", "value": {"start": 0, "end": 8, "labels": ["Flag-Waving"]}}
    other = {"type": "labels", "value": {"start": 9, "end": 19, "labels": ["Slogans"]}}
    data = [
        {"id": 1, "data": {"text": "not ours"}},  # no spinlens_analysis: skipped
        {"id": 2, "data": {"spinlens_analysis": 7}, "annotations": []},  # not reviewed: skipped
        {
            "id": 3,
            "data": {"text": TEXT2, "spinlens_analysis": 8},
            "annotations": [
                {"completed_by": 1, "updated_at": "2026-01-01T10:00:00Z", "result": [region]},
                {
                    "completed_by": {"id": 2, "email": "bo@example.org"},
                    "updated_at": "2026-01-02T10:00:00Z",
                    "result": [region, other, {"type": "choices", "value": {"choices": ["x"]}}],
                },
                {"completed_by": 3, "updated_at": "2026-01-03T10:00:00Z", "was_cancelled": True, "result": []},
            ],
        },
    ]
    imported, skipped, _ = read_export(data, {7: (analysis, []), 8: (analysis, [])}.get)
    assert skipped == 2 and len(imported) == 1
    assert (imported[0].task, imported[0].analysis_id, imported[0].author) == (
        "task 3",
        8,
        "labelstudio:bo@example.org",
    )
    assert [c.kind.value for c in imported[0].corrections] == ["accept", "reject", "add"]


BAD = {
    "unknown analysis": (
        lambda t: t[1]["data"].update(spinlens_analysis=999),
        "task 11: data.spinlens_analysis: no analysis 999",
    ),
    "offset outside": (
        lambda t: t[1]["annotations"][0]["result"][0]["value"].update(end=10_000),
        "task 11: annotations[0].result[0].value.end: 10000 is outside the text (0-39)",
    ),
    "unknown label": (
        lambda t: t[1]["annotations"][0]["result"][0]["value"].update(labels=["Propaganda"]),
        "task 11: annotations[0].result[0].value.labels: unknown label 'Propaganda'",
    ),
    "other text": (lambda t: t[1]["data"].update(text="Other."), "task 11: data.text: is not the text of analysis"),
    "id not a number": (
        lambda t: t[1]["data"].update(spinlens_analysis="two"),
        "task 11: data.spinlens_analysis: expected an analysis id",
    ),
    "twice": (lambda t: t[1]["data"].update(spinlens_analysis=t[0]["data"]["spinlens_analysis"]), "is also task 10"),
    "no list": (lambda t: t.__setitem__(slice(None), [{"id": 10}]), "task 10: data: missing"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_export_names_task_and_field_and_stores_nothing(reviewed, tmp_path, case):
    store, ids, url = reviewed
    tasks = [_submit(t) for t in _export_tasks(url, tmp_path / "review.json")]
    for n, task in enumerate(tasks):
        task["id"] = 10 + n  # as Label Studio numbers them
    spoil, message = BAD[case]
    bad = copy.deepcopy(tasks)
    spoil(bad)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    before = [store.corrections(i) for i in ids]
    code, output = _cli("import", "labelstudio", str(path), "--db", url)
    assert code == 2 and message in " ".join(output.split()), output
    assert "Traceback" not in output
    assert [store.corrections(i) for i in ids] == before  # the first task's accept was not stored either


def test_files_that_are_no_export_are_refused(tmp_path, reviewed):
    _, _, url = reviewed
    (tmp_path / "x.json").write_text("{not json")
    (tmp_path / "y.json").write_text('{"tasks": []}')
    for name, message in [("x.json", "not JSON"), ("y.json", "expected a list of tasks"), ("z.json", "cannot read")]:
        code, output = _cli("import", "labelstudio", str(tmp_path / name), "--db", url)
        assert code == 2 and message in output, output


def test_add_corrections_stores_all_or_nothing(reviewed):
    store, (a1, a2, _), _ = reviewed
    before = [store.corrections(a) for a in (a1, a2)]
    with pytest.raises(InputError, match="no span 9"):
        store.add_corrections(
            {a1: [CorrectionIn(kind="accept", span=3)], a2: [CorrectionIn(kind="accept", span=9)]}, author="x"
        )
    assert [store.corrections(a) for a in (a1, a2)] == before
    stored = store.add_corrections(
        {a1: [CorrectionIn(kind="accept", span=3)], a2: [CorrectionIn(kind="reject", span=1)]}, {a1: "p", a2: "q"}
    )
    assert [(c.analysis_id, c.kind.value, c.author, c.model) for c in stored] == [
        (a1, "accept", "p", "m"),
        (a2, "reject", "q", "m"),
    ]


LABEL_STUDIO = os.environ.get("SPINLENS_LABEL_STUDIO")


@pytest.mark.skipif(
    not LABEL_STUDIO,
    reason="no Label Studio: set SPINLENS_LABEL_STUDIO to a `label-studio` executable "
    "(python3 -m venv /tmp/ls-venv && /tmp/ls-venv/bin/pip install label-studio; .ci/run does this)",
)
def test_a_real_label_studio_round_trip(reviewed, tmp_path):
    """A Label Studio server on loopback, as its users work: a project with our labelling config, our tasks with
    predictions imported through its API, one task edited and one left as predicted, both submitted through its
    API, one not touched; its JSON export imported back: the annotators' decisions and nothing else."""
    import httpx

    store, (a1, a2, a3), url = reviewed
    tasks = _export_tasks(url, tmp_path / "review.json", "--include-complete")  # a1 too: a task nobody submits
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(20)
    env = os.environ | {
        "LABEL_STUDIO_USERNAME": "reviewer@example.org",
        "LABEL_STUDIO_PASSWORD": secrets.token_urlsafe(12),
        "LABEL_STUDIO_USER_TOKEN": token,
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        "LATEST_VERSION_CHECK": "false",
        "COLLECT_ANALYTICS": "false",
    }
    log = tmp_path / "label-studio.log"
    command = [LABEL_STUDIO, "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port)]
    command += ["--data-dir", str(tmp_path / "ls-data")]
    with open(log, "wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(1)
        api = httpx.Client(base_url=f"{base}/api", headers={"Authorization": f"Token {token}"}, timeout=60)
        project = api.post("/projects", json={"title": "spinlens review", "label_config": label_config()})
        assert project.status_code == 201, project.text
        pid = project.json()["id"]
        imported = api.post(f"/projects/{pid}/import", json=tasks)
        assert imported.status_code == 201, imported.text
        counts = imported.json()
        assert (counts["task_count"], counts["annotation_count"], counts["prediction_count"]) == (3, 0, 3)
        listed = api.get("/tasks", params={"project": pid, "page_size": 100})
        assert listed.status_code == 200, listed.text
        ls_tasks = {t["data"]["spinlens_analysis"]: t for t in listed.json()["tasks"]}
        assert all(t["is_labeled"] is False for t in ls_tasks.values())  # predictions do not count as done
        ours = {t["data"]["spinlens_analysis"]: t for t in tasks}
        for analysis_id, submitted in [
            (a3, _submit(ours[a3])),  # left as predicted
            (a2, _submit(ours[a2], drop=1, add=_value(TEXT2, 9, 19, "Slogans"))),  # one region deleted, one drawn
        ]:
            answer = api.post(
                f"/tasks/{ls_tasks[analysis_id]['id']}/annotations",
                json={"result": submitted["annotations"][0]["result"]},
            )
            assert answer.status_code == 201, answer.text
        exported = api.get(f"/projects/{pid}/export", params={"exportType": "JSON", "download_all_tasks": "true"})
        assert exported.status_code == 200, exported.text
        (tmp_path / "from-label-studio.json").write_bytes(exported.content)
        listed_users = api.get("/users")
        assert listed_users.status_code == 200, listed_users.text
        (tmp_path / "users.json").write_bytes(listed_users.content)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    back = json.loads((tmp_path / "from-label-studio.json").read_text())
    assert sorted(t["data"]["spinlens_analysis"] for t in back) == sorted([a1, a2, a3])
    before_a1 = store.corrections(a1)
    users = ["--users", str(tmp_path / "users.json")]
    code, output = _cli("import", "labelstudio", str(tmp_path / "from-label-studio.json"), "--db", url, *users)
    assert code == 0, output
    assert "stored 3 corrections (1 accept, 1 reject, 1 add) of 2 submitted tasks" in output, output
    assert "1 tasks skipped" in output, output
    (who,) = {c.author for c in store.corrections(a3)}
    assert who == "labelstudio:reviewer@example.org"  # the annotator, by the email of their account
    assert [(c.kind.value, c.span) for c in store.corrections(a3)] == [("accept", 0)]
    assert [(c.kind.value, c.span, c.start, c.end, c.techniques) for c in store.corrections(a2)][1:] == [
        ("reject", 1, None, None, []),
        ("add", None, 9, 19, ["Slogans"]),
    ]
    assert store.corrections(a1) == before_a1  # nobody submitted it in Label Studio
    marks = tables.marks(store)
    assert (marks[a2].author, marks[a3].author) == (who, who)
    assert _state(store, a2) == [(0, 8, ["Flag-Waving"]), (9, 19, ["Slogans"])]
    # importing the same export again changes nothing
    code, output = _cli("import", "labelstudio", str(tmp_path / "from-label-studio.json"), "--db", url)
    assert code == 0 and "stored 0 corrections" in output, output


# --- properties of reading a review back: what a reviewer leaves is exactly what is stored -----------------------

_WORDS = [(m.start(), m.end()) for m in __import__("re").finditer(r"\w+", TEXT1)]
_TECHNIQUES = sorted(taxonomy.PTC14)


def _passages():  # type: ignore[no-untyped-def]
    from hypothesis import strategies as st

    return st.tuples(st.integers(0, len(_WORDS) - 1), st.integers(0, 2)).map(
        lambda p: (_WORDS[p[0]][0], _WORDS[min(p[0] + p[1], len(_WORDS) - 1)][1])
    )


def _corrections():  # type: ignore[no-untyped-def]
    from hypothesis import strategies as st

    techniques = st.lists(st.sampled_from(_TECHNIQUES), min_size=1, max_size=2, unique=True)
    span = st.integers(0, len(SPANS1) - 1)
    one = st.one_of(
        st.builds(lambda i: CorrectionIn(kind="accept", span=i), span),
        st.builds(lambda i: CorrectionIn(kind="reject", span=i), span),
        st.builds(lambda i, t: CorrectionIn(kind="relabel", span=i, techniques=t), span, techniques),
        st.builds(lambda i, p: CorrectionIn(kind="move", span=i, start=p[0], end=p[1]), span, _passages()),
        st.builds(lambda p, t: CorrectionIn(kind="add", start=p[0], end=p[1], techniques=t), _passages(), techniques),
    )
    return st.lists(one, max_size=6)


def _stored(made: list[CorrectionIn], first_id: int = 1) -> list[Correction]:
    t0 = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    return [
        Correction(
            **c.model_dump(),
            id=i,
            analysis_id=1,
            model="m",
            model_version="2",
            author="x",
            created=t0 + dt.timedelta(seconds=i),
        )
        for i, c in enumerate(made, start=first_id)
    ]


def _as_regions(spans) -> list[tuple[int, int, tuple[str, ...]]]:  # type: ignore[no-untyped-def]
    return sorted((s.start, s.end, tuple(sorted(s.techniques))) for s in spans)


def test_a_task_submitted_as_predicted_only_accepts_what_nobody_had_reviewed():
    from hypothesis import given, settings

    @settings(max_examples=150, deadline=None)
    @given(_corrections())
    def check(made):
        before = _stored(made)
        current = corrected_spans(TEXT1, SPANS1, before)
        out = corrections_to_reach(TEXT1, SPANS1, before, [(s.start, s.end, s.techniques) for s in current])
        assert all(c.kind.value == "accept" for c in out), out
        assert sorted(c.span for c in out) == sorted(s.origin for s in current if s.status == "model")
        after = corrected_spans(TEXT1, SPANS1, before + _stored(out, len(before) + 1))
        assert _as_regions(after) == _as_regions(current)

    check()


def test_any_submitted_regions_are_exactly_the_state_stored():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    regions = st.lists(
        st.tuples(_passages(), st.lists(st.sampled_from(_TECHNIQUES), min_size=1, max_size=2, unique=True)),
        max_size=6,
        unique_by=lambda r: (r[0], tuple(sorted(r[1]))),
    ).map(lambda rs: [(p[0], p[1], t) for p, t in rs])

    @settings(max_examples=150, deadline=None)
    @given(_corrections(), regions)
    def check(made, wanted):
        before = _stored(made)
        out = corrections_to_reach(TEXT1, SPANS1, before, wanted)
        after = corrected_spans(TEXT1, SPANS1, before + _stored(out, len(before) + 1))
        assert _as_regions(after) == sorted((s, e, tuple(sorted(t))) for s, e, t in wanted)

    check()
