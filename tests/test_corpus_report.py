"""Corpus statistics against a brute-force count, the report page, and the `stats` / `report` commands."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spinlens import taxonomy
from spinlens.cli import app
from spinlens.document import Analysis, Document, Span, TechniqueVerdict
from spinlens.report import render_analysis
from spinlens.report.corpus import render_corpus, render_summary
from spinlens.scale import run_batch
from spinlens.scale.synthetic import generate, write_jsonl
from spinlens.store import Store
from spinlens.store import stats as st
from spinlens.textutil import likely_target

RAW_IDS = [t.name for t in taxonomy.techniques("ptc14") if taxonomy.display_name(t.name) != t.name]


@pytest.fixture(scope="module")
def corpus_db(tmp_path_factory) -> tuple[str, list]:
    tmp = tmp_path_factory.mktemp("corpus")
    path = write_jsonl(tmp / "c.jsonl", 40, sentences=5)
    docs = list(generate(40, sentences=5))
    with open(path, "a", encoding="utf-8") as f:
        for i in range(5):  # an outlet whose name is mathtext and HTML, with enough articles to be plotted
            f.write(
                json.dumps({"text": f"Traitors and puppets of Brussels, number {i}.", "source": "$\\frac{<b>"}) + "\n"
            )
        f.write(json.dumps({"text": docs[0].text.upper(), "source": "Copycat Daily", "date": "2024-07-01"}) + "\n")
    db = f"sqlite:///{tmp / 'c.db'}"
    run_batch([path], Store(db), executor="local")
    return db, docs


def test_outlet_rates_match_a_count_by_hand(corpus_db) -> None:
    db, docs = corpus_db
    store = Store(db)
    scope = st.choose_scope(store)
    stored = {a.document.text: a for a in (store.get(r["id"]) for r in store.list(limit=1000))}
    words: Counter = Counter()
    spans: Counter = Counter()
    for doc in docs:
        words[doc.source] += len(doc.text.split())
        spans[doc.source] += len(stored[doc.text].spans)
    copy = docs[0].text.upper()  # the duplicate counts for its own outlet with its original's spans
    words["Copycat Daily"] += len(copy.split())
    spans["Copycat Daily"] += len(stored[docs[0].text].spans)
    rows = {r["outlet"]: r for r in st.by_outlet(store, scope)}
    for outlet in ("Daily Courier", "Patriot Wire", "Copycat Daily"):
        assert rows[outlet]["words"] == words[outlet]
        assert rows[outlet]["spans"] == spans[outlet]
        assert rows[outlet]["spans_per_1000_words"] == pytest.approx(1000 * spans[outlet] / words[outlet], abs=1e-3)
    assert rows["Patriot Wire"]["spans_per_1000_words"] > rows["Daily Courier"]["spans_per_1000_words"]
    assert sum(r["documents"] for r in rows.values()) == 46
    techniques = st.by_technique(store, scope)
    assert sum(r["spans"] for r in techniques) == sum(r["spans"] for r in rows.values())
    per_month = st.by_outlet_and_month(store, scope)
    for outlet in ("Patriot Wire", "Copycat Daily"):  # every article of these has a date
        assert sum(r["spans"] for r in per_month if r["outlet"] == outlet) == rows[outlet]["spans"]
    assert "$\\frac{<b>" not in {r["outlet"] for r in per_month}  # undated: no month to put it in
    months = st.by_month(store, scope)
    assert "2024-01" in {r["month"] for r in months} and st.UNKNOWN in {r["month"] for r in months}


def test_likely_targets() -> None:
    text = "Either Europe stands with us, or it freezes. They rearm neo-Nazi battalions. The Kiev regime is done."
    assert likely_target(text, text.index("it freezes"), text.index(".")) == "Europe"
    assert likely_target(text, text.index("neo"), text.index(" battalions")) is None
    assert likely_target(text, text.index("Kiev"), text.index(" is done")) == "Kiev"


def test_report_and_stats_commands(corpus_db, tmp_path: Path) -> None:
    db, _ = corpus_db
    runner = CliRunner()
    out = tmp_path / "r" / "report.html"
    out.parent.mkdir()
    result = runner.invoke(app, ["report", "--db", db, "-o", str(out), "--articles", "5"])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert page.count("<svg") == 3 and "<script" not in page and "&lt;b&gt;" in page
    pages = sorted((out.parent / "report-articles").glob("*.html"))
    assert len(pages) == 5 and all(f'href="report-articles/{p.name}"' in page for p in pages)

    as_csv = runner.invoke(app, ["stats", "--db", db, "--by", "technique", "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert len(rows) == 14 and {"technique", "spans", "spans_per_1000_words"} <= set(rows[0])
    as_json = json.loads(runner.invoke(app, ["stats", "--db", db, "--by", "outlet", "--format", "json"]).stdout)
    assert {r["outlet"] for r in as_json} >= {"Morning Ledger", "$\\frac{<b>"}
    table = runner.invoke(app, ["stats", "--db", db, "--by", "month"])
    assert table.exit_code == 0 and "2024-01" in table.stdout
    by_technique = runner.invoke(app, ["stats", "--db", db, "--by", "technique"], env={"COLUMNS": "200"})
    assert "Name Calling / Labeling" in by_technique.stdout and "Name_Calling,Labeling" not in by_technique.stdout

    empty = runner.invoke(app, ["stats", "--db", f"sqlite:///{tmp_path / 'empty.db'}", "--by", "outlet"])
    assert empty.exit_code == 2 and "no analyses" in empty.output
    missing = runner.invoke(app, ["batch", str(tmp_path / "corpus[2024]"), "--db", db])
    assert missing.exit_code == 2 and "no such file or folder" in missing.output
    assert "corpus[2024]" in missing.output  # not eaten as console markup


def test_statistics_are_the_same_on_every_database(corpus_db, db_url: str) -> None:
    """The same documents and analyses copied into another database (PostgreSQL in CI) give the same numbers."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from spinlens.store.schema import AnalysisRow, DocumentRow, _document

    source = Store(corpus_db[0])
    target = Store(db_url)
    with Session(source.engine) as s:
        docs = s.execute(select(DocumentRow.id, DocumentRow.ref).order_by(DocumentRow.id)).all()
        analysis_of = dict(s.execute(select(AnalysisRow.document_id, AnalysisRow.id)).all())
    for doc_id, ref in docs:
        with Session(source.engine) as s:
            document = _document(s.get(DocumentRow, doc_id))
        target.register([(ref, document, None)])
    new_ids = {ref: i for i, ref in Session(target.engine).execute(select(DocumentRow.id, DocumentRow.ref)).all()}
    target.save_results(
        [(new_ids[ref], source.get(analysis_of[doc_id])) for doc_id, ref in docs if doc_id in analysis_of]
    )
    a, b = st.choose_scope(source), st.choose_scope(target)
    for fn in (*st.DIMENSIONS.values(), st.top_phrases):
        assert fn(target, b) == fn(source, a), fn.__name__
    strip = [{k: v for k, v in r.items() if k != "analysis_id"} for r in st.densest(source, a)]
    assert [{k: v for k, v in r.items() if k != "analysis_id"} for r in st.densest(target, b)] == strip
    assert st.overview(target, b) == st.overview(source, a)


def _hand_built() -> st.CorpusSummary:
    """A summary as `stats.summarize` would make it, written out by hand: two outlets, two months, three phrases."""
    techniques = [t.name for t in taxonomy.techniques("ptc14")]

    def rates(**given: float) -> dict:
        return {f"{t}_per_1000_words": given.get(t.split(",")[0], 0.0) for t in techniques}

    outlets = [
        {
            "outlet": "Daily <b>Courier</b>",
            "documents": 6,
            "words": 3000,
            "spans": 3,
            "spans_per_1000_words": 1.0,
            "mean_propaganda_score": 0.1,
            **rates(Loaded_Language=1.0),
        },
        {
            "outlet": "Patriot Wire",
            "documents": 5,
            "words": 2000,
            "spans": 20,
            "spans_per_1000_words": 10.0,
            "mean_propaganda_score": 0.8,
            **rates(Whataboutism=4.0, Name_Calling=6.0),
        },
    ]
    months = [
        {
            "month": "2024-01",
            "documents": 6,
            "words": 3000,
            "spans": 9,
            "spans_per_1000_words": 3.0,
            "mean_propaganda_score": 0.3,
            **rates(Whataboutism=1.0, Name_Calling=2.0),
        },
        {
            "month": "2024-02",
            "documents": 5,
            "words": 2000,
            "spans": 14,
            "spans_per_1000_words": 7.0,
            "mean_propaganda_score": 0.5,
            **rates(Whataboutism=3.0, Loaded_Language=4.0),
        },
    ]
    spans = {"Name_Calling,Labeling": 12, "Whataboutism,Straw_Men,Red_Herring": 8, "Loaded_Language": 3}
    by_technique = [
        {
            "technique": t.name,
            "category": t.category,
            "spans": spans.get(t.name, 0),
            "documents_with_spans": 1 if t.name in spans else 0,
            "share_of_documents": 0.1 if t.name in spans else 0.0,
            "spans_per_1000_words": round(spans.get(t.name, 0) / 5, 3),
            "mean_span_confidence": None,
        }
        for t in sorted(taxonomy.techniques("ptc14"), key=lambda t: -spans.get(t.name, 0))
    ]
    phrases = [
        {
            "phrase": "puppets of brussels",
            "technique": "Name_Calling,Labeling",
            "count": 7,
            "outlets": 1,
            "top_outlets": ["Patriot Wire"],
            "targets": ["Brussels"],
        },
        {
            "phrase": "<i>vile</i>",
            "technique": "Loaded_Language",
            "count": 3,
            "outlets": 1,
            "top_outlets": ["Daily <b>Courier</b>"],
            "targets": [],
        },
    ]
    densest = [
        {
            "analysis_id": 41,
            "title": "They lie <script>alert(1)</script>",
            "outlet": "Patriot Wire",
            "date": "2024-02-03",
            "url": "https://example.org/41",
            "words": 400,
            "spans": 9,
            "spans_per_100_words": 2.25,
            "propaganda_score": 0.9,
        },
        {
            "analysis_id": 42,
            "title": "Quiet day",
            "outlet": "Daily <b>Courier</b>",
            "date": None,
            "url": "javascript:alert(2)",
            "words": 300,
            "spans": 1,
            "spans_per_100_words": 0.33,
            "propaganda_score": 0.1,
        },
    ]
    overview = {
        "model": "m",
        "model_version": "1",
        "documents": 11,
        "duplicates": 1,
        "words": 5000,
        "outlets": 2,
        "first_date": "2024-01-02",
        "last_date": "2024-02-28",
        "failures": 3,
        "pending": 4,
    }
    return st.CorpusSummary(
        scope=st.Scope("m", "1"),
        overview=overview,
        outlets=outlets,
        months=months,
        outlet_months=[],
        techniques=by_technique,
        phrases=phrases,
        densest=densest,
        against_training=st.against_training(by_technique, None),
    )


def test_a_report_renders_from_a_summary_without_a_database() -> None:
    page = render_summary(_hand_built(), lambda i: f"pages/{i}.html")
    assert (
        "11 articles (1 duplicates of others; 0 syndicated: the same text in several outlets), 5,000 words, 2 outlets, "
        "2024-01-02 to 2024-02-28" in page
    )
    assert "Model m 1. 4 documents not analysed yet, 3 inputs failed" in page
    assert page.count("<svg") == 2  # outlets and months; no training profile, so no comparison plot
    assert "The model carries no training profile." in page
    assert '<a href="pages/41.html">They lie &lt;script&gt;alert(1)&lt;/script&gt;</a>' in page
    assert '<a href="https://example.org/41" rel="noreferrer">source</a>' in page and 'href="javascript' not in page
    assert "Daily &lt;b&gt;Courier&lt;/b&gt;" in page and "<b>Courier" not in page
    assert '<td class="">puppets of brussels</td>' in page and "&lt;i&gt;vile&lt;/i&gt;" in page
    assert '<td class="">Brussels</td>' in page and "<script" not in page
    assert "Whataboutism / Straw Men / Red Herring" in page
    assert not [t for t in RAW_IDS if t in page]


def test_the_report_names_techniques_for_people(corpus_db) -> None:
    """Display names in the tables, plots and notes, never ids such as 'Whataboutism,Straw_Men,Red_Herring'."""
    store = Store(corpus_db[0])
    page = render_corpus(store, training={"words": 1000, "spans": {"Whataboutism,Straw_Men,Red_Herring": 3}})
    assert '<td class="">Name Calling / Labeling</td>' in page
    assert "Whataboutism / Straw Men / Red Herring" in page
    assert not [t for t in RAW_IDS if t in page]
    analysis = store.get(st.densest(store, st.choose_scope(store), limit=1)[0]["analysis_id"])
    assert analysis is not None
    verdict = TechniqueVerdict(technique="Whataboutism,Straw_Men,Red_Herring", present=True, probability=0.9)
    analysis = analysis.model_copy(update={"techniques": [*analysis.techniques, verdict]})
    article = render_analysis(analysis)
    assert not [t for t in RAW_IDS if t in article]


def test_phrase_lists_leave_out_function_words(tmp_path: Path) -> None:
    """'an' tagged as loaded language, four times, is not a phrase worth listing; the real ones still fill the list."""
    store = Store(f"sqlite:///{tmp_path / 'p.db'}")
    for i in range(4):
        text = f"Story {i}. It is an outrage, said a critic of Brussels: a vile lie, and -- of the people."
        spans = [
            Span(start=text.index(piece), end=text.index(piece) + len(piece), technique=technique, score=0.5)
            for piece, technique in [
                ("an", "Loaded_Language"),
                ("a", "Name_Calling,Labeling"),
                ("of the", "Loaded_Language"),
                ("--", "Loaded_Language"),
                ("vile lie", "Loaded_Language"),
            ]
            if i == 0 or piece != "vile lie"
        ]
        store.save(Analysis(document=Document(id=f"d{i}", text=text), spans=spans, model="m", model_version="1"))
    phrases = st.top_phrases(store, st.Scope("m", "1"), limit=1)
    assert [p["phrase"] for p in phrases] == ["vile lie"]
    assert [p["phrase"] for p in st.top_phrases(store, st.Scope("m", "1"))] == ["vile lie"]
