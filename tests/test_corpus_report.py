"""Corpus statistics against a brute-force count, the report page, and the `stats` / `report` commands."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spinlens.cli import app
from spinlens.scale import run_batch
from spinlens.scale.synthetic import generate, write_jsonl
from spinlens.store import Store
from spinlens.store import stats as st
from spinlens.store.stats import likely_target


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

    empty = runner.invoke(app, ["stats", "--db", f"sqlite:///{tmp_path / 'empty.db'}", "--by", "outlet"])
    assert empty.exit_code == 2 and "no analyses" in empty.output
    missing = runner.invoke(app, ["batch", str(tmp_path / "corpus[2024]"), "--db", db])
    assert missing.exit_code == 2 and "no such file or folder" in missing.output
    assert "corpus[2024]" in missing.output  # not eaten as console markup


def test_statistics_are_the_same_on_every_database(corpus_db, db_url: str) -> None:
    """The same documents and analyses copied into another database (PostgreSQL in CI) give the same numbers."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from spinlens.store.db import AnalysisRow, DocumentRow, _document

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
