"""The reviewed state (`spinlens.review`) and everywhere it shows: JSON, the HTML report, the REST API, the pages."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from fastapi.testclient import TestClient

from spinlens.corrections import Correction, CorrectionIn
from spinlens.document import Analysis, Document, Span, TechniqueVerdict
from spinlens.formats.results import analysis_record, write_json
from spinlens.report import render_analysis
from spinlens.review import tables
from spinlens.review.state import review, uncertainty
from spinlens.store import Store

TEXT = "They lie about the Kiev regime, as always. Only traitors doubt it."
SPANS = [
    Span(start=5, end=8, technique="Loaded_Language", score=0.4, span_confidence=0.5, technique_confidence=0.8),
    Span(
        start=19, end=30, technique="Name_Calling,Labeling", score=0.6, span_confidence=0.75, technique_confidence=0.8
    ),
    Span(
        start=48, end=56, technique="Name_Calling,Labeling", score=0.5, span_confidence=0.6, technique_confidence=0.83
    ),
]
MODEL = Analysis(
    document=Document(id="op-ed", text=TEXT, title="Op-ed"),
    spans=SPANS,
    techniques=[
        TechniqueVerdict(technique="Loaded_Language", present=True, probability=0.4),
        TechniqueVerdict(technique="Name_Calling,Labeling", present=True, probability=0.8),
        TechniqueVerdict(technique="Doubt", present=False, probability=0.0),
    ],
    propaganda_score=0.8,
    model="m",
    model_version="2",
)
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def _made(*corrections: CorrectionIn, author: str = "alice") -> list[Correction]:
    return [
        Correction(
            **c.model_dump(),
            id=i,
            analysis_id=1,
            model="m",
            model_version="2",
            author=author,
            created=T0 + dt.timedelta(minutes=i),
        )
        for i, c in enumerate(corrections, start=1)
    ]


def test_an_analysis_nobody_corrected_is_the_model_s_own():
    r = review(MODEL, [])
    assert r.analysis == MODEL and not r.corrected and not r.complete and not r.decided and r.positives == []


def test_verdicts_and_score_follow_the_corrected_spans():
    """A rejected span is gone; a span a person decided has confidence 1; unreviewed ones keep the model's."""
    r = review(
        MODEL,
        _made(
            CorrectionIn(kind="reject", span=1),
            CorrectionIn(kind="reject", span=2),
            CorrectionIn(kind="add", start=57, end=62, techniques=["Doubt"]),
        ),
    )
    verdicts = {v.technique: (v.present, v.probability) for v in r.analysis.techniques}
    assert verdicts == {"Loaded_Language": (True, 0.4), "Name_Calling,Labeling": (False, 0.0), "Doubt": (True, 1.0)}
    assert r.analysis.propaganda_score == 1.0 and MODEL.propaganda_score == 0.8  # the model's is never changed
    assert [(s.start, s.technique, s.score) for s in r.analysis.spans] == [
        (5, "Loaded_Language", 0.4),
        (57, "Doubt", 1.0),
    ]
    assert [(s.status, s.author) for s in r.span_reviews] == [("model", None), ("added", "alice")]
    assert [(s.origin, s.author) for s in r.rejected] == [(1, "alice"), (2, "alice")]
    # rejecting everything leaves no technique and a score of 0
    none = review(MODEL, _made(*[CorrectionIn(kind="reject", span=i) for i in range(3)]))
    assert none.analysis.spans == [] and none.analysis.propaganda_score == 0.0
    assert not any(v.present for v in none.analysis.techniques)


def test_the_most_uncertain_analysis_comes_first():
    sure = MODEL.model_copy(
        update={
            "spans": [SPANS[0].model_copy(update={"score": 0.97})],
            "techniques": [TechniqueVerdict(technique="Loaded_Language", present=True, probability=0.97)],
        }
    )
    assert uncertainty(review(MODEL, [])) == 1.0  # a span at 0.5
    assert uncertainty(review(sure, [])) == pytest.approx(0.06)
    accepted = review(sure, _made(CorrectionIn(kind="accept", span=0)))
    assert uncertainty(accepted) == 0.0  # decided by a person: nothing left to doubt


def test_json_and_html_show_the_corrected_state_marked_with_the_model_s_beside_it():
    r = review(
        MODEL, _made(CorrectionIn(kind="reject", span=1), CorrectionIn(kind="relabel", span=2, techniques=["Doubt"]))
    )
    record = analysis_record(MODEL, r)
    assert record["corrected"] and record["propaganda_score"] == 1.0 and record["model_propaganda_score"] == 0.8
    assert [(s["text"], s["technique"], s["review"]["status"]) for s in record["spans"]] == [
        ("lie", "Loaded_Language", "model"),
        ("traitors", "Doubt", "relabelled"),
    ]
    assert record["spans"][1]["review"]["author"] == "alice" and record["spans"][1]["review"]["decided"]
    assert [s["text"] for s in record["model_spans"]] == ["lie", "Kiev regime", "traitors"]
    assert record["review"]["summary"] == "corrected by alice: 1 relabelled, 1 rejected, 1 not reviewed"
    assert record["summary"].startswith("2 passages with 2 techniques")
    plain = analysis_record(MODEL)  # the CLI's analyze: nothing reviewed, nothing claimed
    assert (plain["corrected"], plain["review"], plain["model_spans"]) == (False, None, None)
    assert "review" not in plain["spans"][0]
    out = io.StringIO()
    write_json([MODEL], out)
    assert json.loads(out.getvalue())["corrected"] is False

    page = render_analysis(MODEL, r)
    assert "corrected by alice: 1 relabelled, 1 rejected, 1 not reviewed" in page
    assert "Corrected: relabelled by alice, 2026-12-01 09:02 UTC" in page
    assert "outline:1px dashed" in page  # the passage a person decided
    assert "Rejected by people" in page and "&ldquo;Kiev regime&rdquo;" in page
    assert "The model's own output: 3 spans, overall score 80%" in page
    assert "overall score 100%" in page
    assert "Rejected by people" not in render_analysis(MODEL)


@pytest.fixture(scope="module")
def nlp():
    import spinlens

    return spinlens.load()


def test_the_api_and_pages_show_corrections_and_take_the_review_complete_mark(db_url, nlp):
    from spinlens.web import create_app

    store = Store(db_url)
    aid = store.save(MODEL)
    store.add_correction(aid, CorrectionIn(kind="reject", span=1), author="alice")
    app = create_app(db_url=db_url, token=["bob=s3cret-bob"], allowed_hosts=["testserver"], detector=nlp)
    bob = {"Authorization": "Bearer s3cret-bob", "X-Requested-With": "spinlens"}
    with TestClient(app, headers=bob) as c:
        shown = c.get(f"/api/analyses/{aid}").json()
        assert shown["corrected"] and [s["text"] for s in shown["spans"]] == ["lie", "traitors"]
        assert len(shown["model_spans"]) == 3 and shown["review"]["complete"] is False
        report = c.get(f"/api/analyses/{aid}/report").text
        page = c.get(f"/analyses/{aid}").text
        for html in (report, page):
            assert "corrected by alice: 1 rejected, 2 not reviewed" in html and "Rejected by people" in html

        done = c.post(f"/api/analyses/{aid}/review-complete")
        assert done.status_code == 200, done.text
        assert (done.json()["mark"]["author"], done.json()["accepted"]) == ("bob", 2)
        state = c.get(f"/api/analyses/{aid}/corrections").json()
        assert state["review_complete"]["author"] == "bob" and state["propaganda_score"] == 1.0
        assert state["review"]["summary"].startswith("corrected by alice, bob: 2 accepted, 1 rejected; review complete")
        assert state["summary"] == "2 passages with 2 techniques: Loaded Language, Name Calling / Labeling"
        assert [(s["status"], s["author"]) for s in state["spans"]] == [("accepted", "bob"), ("accepted", "bob")]
        assert [s["origin"] for s in state["rejected"]] == [1]
        shown = c.get(f"/api/analyses/{aid}").json()
        assert shown["review"]["complete"] and shown["review"]["completed_by"] == "bob"
        assert shown["propaganda_score"] == 1.0  # two spans confirmed by a person
        assert "review complete (bob," in c.get(f"/api/analyses/{aid}/report").text

        assert c.delete(f"/api/analyses/{aid}/review-complete").status_code == 200
        assert c.delete(f"/api/analyses/{aid}/review-complete").status_code == 404
        assert c.post("/api/analyses/999/review-complete").status_code == 404
        assert c.post(f"/api/analyses/{aid}/review-complete", headers={"Authorization": ""}).status_code == 401
        assert tables.load(store, aid).mark is None and len(store.corrections(aid)) == 3  # the accepts stay
        (listed,) = c.get("/api/analyses").json()
        assert (listed["corrected"], listed["review_complete"], listed["n_spans"]) == (True, False, 2)
        assert listed["propaganda_score"] == 1.0  # the model said 0.8
        spec = c.get("/openapi.json").json()["paths"]["/api/analyses/{analysis_id}/review-complete"]
        assert set(spec) == {"post", "delete"} and "every span" in spec["post"]["description"]


def test_corpus_statistics_and_report_count_the_corrected_state(db_url, tmp_path):
    """SQLite and PostgreSQL: a rejected span leaves the counts, an added one joins them, the score follows, and
    the report says which articles people corrected; an analysis nobody corrected counts as the model made it."""
    from spinlens.report.corpus import write_corpus_report
    from spinlens.store import stats

    store = Store(db_url)
    words = " ".join(["filler"] * 60)
    docs = [
        Document(id="x", text=TEXT + " " + words, source="Outlet A"),
        Document(id="y", text=TEXT + " " + words + " more", source="Outlet B"),
    ]
    x, y = (store.save(MODEL.model_copy(update={"document": d})) for d in docs)
    scope = stats.choose_scope(store)
    before = {r["technique"]: r["spans"] for r in stats.by_technique(store, scope)}
    assert (before["Name_Calling,Labeling"], before["Doubt"]) == (4, 0)
    store.add_correction(x, CorrectionIn(kind="reject", span=1), author="alice")
    store.add_correction(x, CorrectionIn(kind="add", start=57, end=62, techniques=["Doubt"]), author="alice")
    after = {r["technique"]: r for r in stats.by_technique(store, scope)}
    assert (after["Name_Calling,Labeling"]["spans"], after["Doubt"]["spans"]) == (3, 1)
    assert after["Doubt"]["mean_span_confidence"] == 1.0  # a person added it
    outlets = {r["outlet"]: r for r in stats.by_outlet(store, scope)}
    assert (outlets["Outlet A"]["spans"], outlets["Outlet B"]["spans"]) == (3, 3)
    assert (outlets["Outlet A"]["mean_propaganda_score"], outlets["Outlet B"]["mean_propaganda_score"]) == (1.0, 0.8)
    densest = {r["analysis_id"]: r for r in stats.densest(store, scope)}
    assert (densest[x]["corrected"], densest[x]["propaganda_score"], densest[y]["corrected"]) == (True, 1.0, False)
    phrases = {(r["phrase"], r["technique"]) for r in stats.top_phrases(store, scope, techniques=("Doubt",))}
    assert phrases == {("doubt", "Doubt")}
    assert stats.overview(store, scope)["corrected"] == 1
    report = write_corpus_report(store, tmp_path / "report.html", scope)
    assert "1 analyses were corrected by people" in report.read_text()
    assert "(corrected)" in report.read_text()
    assert "corrected by alice" in (tmp_path / "report-articles" / f"{x}.html").read_text()
    # the corrected state is kept in step: rejecting the addition takes its span out of the counts again
    added = store.corrections(x)[-1].id
    store.add_correction(x, CorrectionIn(kind="reject", added=added), author="alice")
    assert {r["technique"]: r["spans"] for r in stats.by_technique(store, scope)}["Doubt"] == 0
    assert store.delete(x) and stats.overview(store, scope)["corrected"] == 0


def test_reviewers_correcting_one_analysis_at_once_leave_its_counted_state_right(db_url):
    """Eight reviewers store corrections of one analysis at the same time: the state statistics count is the one
    the last corrections give, not the one a slower writer read before them."""
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from spinlens.review.tables import CorrectedSpanRow

    store = Store(db_url)
    aid = store.save(MODEL)
    words = [(m.start(), m.end()) for m in __import__("re").finditer(r"\w+", TEXT)]

    def reviewer(k: int) -> None:
        mine = Store(db_url)
        for start, end in words[k::8]:
            mine.add_correction(aid, CorrectionIn(kind="add", start=start, end=end, techniques=["Doubt"]), f"r{k}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(reviewer, range(8)))
    want = sorted((s.start, s.end, s.technique) for s in tables.load(store, aid).analysis.spans)
    with Session(store.engine) as s:
        kept = sorted(s.execute(select(CorrectedSpanRow.start, CorrectedSpanRow.end, CorrectedSpanRow.technique)))
    assert len(want) == len(SPANS) + len(words) and [tuple(r) for r in kept] == want


def test_a_writer_that_read_the_corrections_before_another_s_never_has_the_last_word(db_url, monkeypatch):
    """Deterministically, the race above: between reading the corrections and writing their state, another
    reviewer's correction lands (and writes its own state); the slower writer must not write the older one."""
    store = Store(db_url)
    aid = store.save(MODEL)
    real, meanwhile = tables.load, []

    def slow_load(s, analysis_id):
        state = real(s, analysis_id)
        if not meanwhile:
            meanwhile.append("quick")  # once: its own refresh reads as usual
            store.add_correction(analysis_id, CorrectionIn(kind="reject", span=0), author="quick")
        return state

    monkeypatch.setattr(tables, "load", slow_load)
    store.add_correction(aid, CorrectionIn(kind="reject", span=1), author="slow")
    monkeypatch.setattr(tables, "load", real)
    from spinlens.store import stats

    counted = {r["technique"]: r["spans"] for r in stats.by_technique(store, stats.choose_scope(store))}
    assert meanwhile and (counted["Loaded_Language"], counted["Name_Calling,Labeling"]) == (0, 1)


def test_a_database_corrected_before_the_state_was_kept_is_brought_up_to_date_when_opened(tmp_path):
    from sqlalchemy import delete

    from spinlens.review.tables import CorrectedAnalysisRow, CorrectedSpanRow
    from spinlens.store import stats

    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = Store(url)
    aid = store.save(MODEL)
    store.add_correction(aid, CorrectionIn(kind="reject", span=0), author="alice")
    with store.engine.begin() as c:  # as a database written by spinlens before these tables existed
        c.execute(delete(CorrectedSpanRow))
        c.execute(delete(CorrectedAnalysisRow))
    assert tables.stale(store) == [aid]
    reopened = Store(url)
    counted = {r["technique"]: r["spans"] for r in stats.by_technique(reopened, stats.choose_scope(reopened))}
    assert tables.stale(reopened) == [] and counted["Loaded_Language"] == 0
