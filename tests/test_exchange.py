"""Corrections out to PTC files, Label Studio and spaCy, and Label Studio's export back in as corrections."""

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

from spinlens.cli import app
from spinlens.corrections import Correction, CorrectionIn, corrected_spans
from spinlens.document import Analysis, Document, Span
from spinlens.errors import InputError
from spinlens.exchange.labelstudio import label_config, read_export
from spinlens.exchange.review import corrections_to_reach
from spinlens.store import Store

TEXT1 = "They lie about the Kiev regime, as always. Only traitors doubt it."
TEXT2 = "Patriots stand firm while cowards flee."
TEXT3 = "Nobody corrected this one."
SPANS1 = [
    Span(start=5, end=8, technique="Loaded_Language"),  # lie
    Span(start=19, end=30, technique="Name_Calling,Labeling"),  # Kiev regime
    Span(start=19, end=30, technique="Doubt"),  # the same passage, a second technique
    Span(start=48, end=56, technique="Name_Calling,Labeling"),  # traitors
    Span(start=43, end=56, technique="Repetition"),  # Only traitors
]
SPANS2 = [
    Span(start=0, end=8, technique="Flag-Waving"),  # Patriots
    Span(start=27, end=33, technique="Name_Calling,Labeling"),  # "owards": not on token edges
]


def _analysis(text: str, spans: list[Span], doc_id: str) -> Analysis:
    return Analysis(
        document=Document(id=doc_id, text=text, title=f"title {doc_id}"), spans=spans, model="m", model_version="2"
    )


ANALYSES = [_analysis(TEXT1, SPANS1, "a1"), _analysis(TEXT2, SPANS2, "a2"), _analysis(TEXT3, [], "a3")]


def _save_all(url: str) -> tuple[Store, list[int]]:
    store = Store(url)
    return store, [store.save(a) for a in ANALYSES]


def _state(store: Store, analysis_id: int) -> list[tuple[int, int, list[str]]]:
    analysis = store.get(analysis_id)
    assert analysis is not None
    spans = corrected_spans(analysis.document.text, analysis.spans, store.corrections(analysis_id))
    return [(s.start, s.end, s.techniques) for s in spans]


def _flat(store: Store, ids: list[int]) -> set[tuple[str, int, int, str]]:
    return {(str(a), s, e, t) for a in ids for s, e, ts in _state(store, a) for t in ts}


@pytest.fixture
def corrected(tmp_path: Path) -> tuple[Store, list[int], str]:
    """Two corrected analyses (every kind of correction, a withdrawn addition) and one nobody corrected."""
    url = f"sqlite:///{tmp_path / 'origin.db'}"
    store, (a1, a2, _) = _save_all(url)
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
    store.add_correction(a2, CorrectionIn(kind="accept", span=0))
    return store, [a1, a2], url


def _cli(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, list(args))
    return res.exit_code, res.output


def test_ptc_export_loads_as_articles_labels_and_training_examples(corrected, tmp_path):
    from spinlens.detect.encoder import Encoder
    from spinlens.formats.ptc import read_articles, read_labels
    from spinlens.training.examples import extra_examples

    store, ids, url = corrected
    out = tmp_path / "ptc"
    code, output = _cli("export", "--corrections", "--format", "ptc", "-o", str(out), "--db", url)
    assert code == 0, output
    articles = read_articles(out / "articles")
    assert {k: d.text for k, d in articles.items()} == {str(ids[0]): TEXT1, str(ids[1]): TEXT2}
    labels = read_labels(out / "corrections.labels", articles)
    assert {(x.article_id, x.start, x.end, x.technique) for x in labels} == _flat(store, ids)
    assert len(labels) == 8  # the relabelled span has two techniques: two lines
    examples = extra_examples(out, Encoder(threads=1), cache_dir=tmp_path / "cache")
    assert sorted(e.document.id for e in examples) == sorted(f"extra-{i}" for i in ids)
    assert sum(len(e.labels) for e in examples) == 8
    # a second export never mixes with old files
    code, output = _cli("export", "--corrections", "--format", "ptc", "-o", str(out), "--db", url)
    assert code == 2 and "not an empty folder" in output


def test_ptc_labels_say_a_label_once():
    from spinlens.exchange.ptc import ptc_labels

    twice = CorrectionIn(kind="relabel", span=1, techniques=["Doubt"])  # the passage has a Doubt span already
    stored = Correction(
        **twice.model_dump(),
        id=1,
        analysis_id=1,
        model="m",
        model_version="2",
        author="a",
        created=dt.datetime.now(dt.UTC),
    )
    labels = ptc_labels([(1, ANALYSES[0], [stored])])
    assert [(x.start, x.end, x.technique) for x in labels if x.start == 19] == [(19, 30, "Doubt")]


def test_spacy_docbin_holds_the_corrected_spans(corrected, tmp_path):
    spacy = pytest.importorskip("spacy")
    from spacy.tokens import DocBin

    store, ids, url = corrected
    code, output = _cli("export", "--corrections", "--format", "spacy", "-o", str(tmp_path / "out"), "--db", url)
    assert code == 0, output
    assert "1 spans did not fall on token edges" in output
    docs = list(DocBin().from_disk(tmp_path / "out.spacy").get_docs(spacy.blank("en").vocab))
    assert [d.text for d in docs] == [TEXT1, TEXT2]
    for doc, analysis_id in zip(docs, ids, strict=True):
        assert doc.user_data["spinlens_analysis"] == analysis_id
        got = sorted((s.start_char, s.end_char, s.label_) for s in doc.spans["spinlens"])
        want = sorted((s, e, t) for s, e, ts in _state(store, analysis_id) for t in ts)
        if analysis_id == ids[1]:  # "owards" grows to the whole token "cowards"
            want = [(26, 33, t) if (s, e) == (27, 33) else (s, e, t) for s, e, t in want]
        assert got == want


def _export_tasks(url: str, out: Path) -> list[dict]:
    code, output = _cli("export", "--corrections", "--format", "labelstudio", "-o", str(out), "--db", url)
    assert code == 0, output
    return json.loads(out.read_text(encoding="utf-8"))


def test_label_studio_tasks_round_trip_into_a_fresh_database(corrected, tmp_path, db_url):
    store, ids, url = corrected
    tasks = _export_tasks(url, tmp_path / "review.json")
    assert (tmp_path / "review.label-config.xml").read_text() == label_config()
    first = tasks[0]
    assert first["data"] == {"text": TEXT1, "spinlens_analysis": ids[0], "title": "title a1"}
    assert first["predictions"][0]["model_version"] == "m 2"
    assert [r["value"]["labels"] for r in first["predictions"][0]["result"]] == [[s.technique] for s in SPANS1]
    assert {r["value"]["text"] for r in first["annotations"][0]["result"]} >= {"Kiev regime", "as always"}

    fresh, fresh_ids = _save_all(db_url)
    assert fresh_ids[:2] == ids
    code, output = _cli("import", "labelstudio", str(tmp_path / "review.json"), "--db", db_url)
    assert code == 0, output
    assert [_state(fresh, i) for i in ids] == [_state(store, i) for i in ids]
    assert {c.author for c in fresh.corrections(ids[0])} == {"labelstudio:unknown"}
    # importing the same file again changes nothing and stores nothing
    before = [len(fresh.corrections(i)) for i in ids]
    code, output = _cli("import", "labelstudio", str(tmp_path / "review.json"), "--db", db_url)
    assert code == 0 and "stored 0 corrections" in output
    assert [len(fresh.corrections(i)) for i in ids] == before
    # and back into the database it came from: the state is unchanged (unreviewed spans are now accepted)
    code, output = _cli("import", "labelstudio", str(tmp_path / "review.json"), "--db", url)
    assert code == 0 and "stored 2 corrections" in output, output
    assert [_state(Store(url), i) for i in ids] == [_state(store, i) for i in ids]


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
    imported, skipped = read_export(data, {7: (analysis, []), 8: (analysis, [])}.get)
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
def test_a_bad_export_names_task_and_field_and_stores_nothing(corrected, tmp_path, case):
    store, ids, url = corrected
    tasks = _export_tasks(url, tmp_path / "review.json")
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


def test_files_that_are_no_export_are_refused(tmp_path, corrected):
    _, _, url = corrected
    (tmp_path / "x.json").write_text("{not json")
    (tmp_path / "y.json").write_text('{"tasks": []}')
    for name, message in [("x.json", "not JSON"), ("y.json", "expected a list of tasks"), ("z.json", "cannot read")]:
        code, output = _cli("import", "labelstudio", str(tmp_path / name), "--db", url)
        assert code == 2 and message in output, output


def test_add_corrections_stores_all_or_nothing(corrected):
    store, (a1, a2), _ = corrected
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


def test_export_needs_corrections_and_format_together(tmp_path, corrected):
    _, _, url = corrected
    code, output = _cli("export", "--format", "ptc", "-o", str(tmp_path / "x"), "--db", url)
    assert code == 2 and "go together" in output
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    code, output = _cli("export", "--corrections", "--format", "ptc", "-o", str(tmp_path / "y"), "--db", empty)
    assert code == 2 and "no corrected analyses" in output


LABEL_STUDIO = os.environ.get("SPINLENS_LABEL_STUDIO")


@pytest.mark.skipif(
    not LABEL_STUDIO,
    reason="no Label Studio: set SPINLENS_LABEL_STUDIO to a `label-studio` executable "
    "(python3 -m venv /tmp/ls-venv && /tmp/ls-venv/bin/pip install label-studio)",
)
def test_a_real_label_studio_takes_the_tasks_and_its_export_imports_back_unchanged(corrected, tmp_path):
    """A local server on loopback: project with our labelling config, tasks with predictions and annotations
    through its API, its JSON export imported back: the corrected state is unchanged."""
    import httpx

    store, ids, url = corrected
    tasks = _export_tasks(url, tmp_path / "review.json")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(20)
    env = os.environ | {
        "LABEL_STUDIO_USERNAME": "spinlens@example.org",
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
        project = api.post("/projects", json={"title": "spinlens corrections", "label_config": label_config()})
        assert project.status_code == 201, project.text
        pid = project.json()["id"]
        imported = api.post(f"/projects/{pid}/import", json=tasks)
        assert imported.status_code == 201, imported.text
        counts = imported.json()
        assert (counts["task_count"], counts["annotation_count"], counts["prediction_count"]) == (2, 2, 2)
        exported = api.get(f"/projects/{pid}/export", params={"exportType": "JSON", "download_all_tasks": "true"})
        assert exported.status_code == 200, exported.text
        (tmp_path / "from-label-studio.json").write_bytes(exported.content)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    back = json.loads((tmp_path / "from-label-studio.json").read_text())
    assert sorted(t["data"]["spinlens_analysis"] for t in back) == ids
    before = [_state(store, i) for i in ids]
    code, output = _cli("import", "labelstudio", str(tmp_path / "from-label-studio.json"), "--db", url)
    assert code == 0, output
    assert [_state(store, i) for i in ids] == before
    assert {c.author for c in store.corrections(ids[1])} >= {"labelstudio:1"}
    fresh_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    fresh, _ = _save_all(fresh_url)
    code, output = _cli("import", "labelstudio", str(tmp_path / "from-label-studio.json"), "--db", fresh_url)
    assert code == 0, output
    assert [_state(fresh, i) for i in ids] == before
