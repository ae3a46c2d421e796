"""Period statistics (issue 22): --since/--until, day/week/month buckets, last N days against the N before, counts
and 95% intervals beside rates, and report tables that stay readable with hundreds of outlets."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from spinlens.cli import app
from spinlens.document import Analysis, Document, Span
from spinlens.report.corpus import TableLimits, render_corpus
from spinlens.store import Store
from spinlens.store import stats as st

DATES = {  # article -> publication date: a Wednesday and a Sunday of one week, the next Monday, a June day
    "wed": dt.datetime(2024, 5, 1, 9, 0, tzinfo=dt.UTC),
    "sun": dt.datetime(2024, 5, 5, 23, 30, tzinfo=dt.UTC),
    "mon": dt.datetime(2024, 5, 6, 0, 30, tzinfo=dt.UTC),
    "jun": dt.datetime(2024, 6, 10, 12, 0, tzinfo=dt.UTC),
}


def _save(store: Store, name: str, outlet: str, spans: int, published: dt.datetime | None = None) -> None:
    text = f"Article {name}. " + "Word " * 98  # 100 words
    span_list = [Span(start=0, end=7, technique="Loaded_Language", score=0.6) for _ in range(spans)]
    doc = Document(id=name, text=text, source=outlet, published=published)
    store.save(Analysis(document=doc, spans=span_list, model="m", model_version="1"))


@pytest.fixture
def dated(db_url: str) -> Store:
    store = Store(db_url)
    for name, when in DATES.items():
        _save(store, name, "Outlet A" if name != "jun" else "Outlet B", spans=2, published=when)
    _save(store, "undated", "Outlet A", spans=1)
    return store


def test_buckets_by_day_week_and_month(dated: Store) -> None:
    scope = st.choose_scope(dated)
    weeks = {r["week"]: r["documents"] for r in st.DIMENSIONS["week"](dated, scope)}
    assert weeks == {"2024-04-29": 2, "2024-05-06": 1, "2024-06-10": 1, st.UNKNOWN: 1}  # weeks start on Monday
    days = {r["day"]: r["documents"] for r in st.DIMENSIONS["day"](dated, scope)}
    assert days == {"2024-05-01": 1, "2024-05-05": 1, "2024-05-06": 1, "2024-06-10": 1, st.UNKNOWN: 1}
    months = {r["month"]: r["documents"] for r in st.by_month(dated, scope)}
    assert months == {"2024-05": 3, "2024-06": 1, st.UNKNOWN: 1}
    per_outlet_week = {(r["outlet"], r["week"]) for r in st.DIMENSIONS["outlet-week"](dated, scope)}
    assert ("Outlet A", "2024-04-29") in per_outlet_week and ("Outlet B", "2024-06-10") in per_outlet_week


def test_since_until_and_the_last_days_against_the_days_before(dated: Store) -> None:
    scope = st.choose_scope(dated).period(dt.date(2024, 5, 2), dt.date(2024, 6, 1))
    rows = st.by_outlet(dated, scope)
    assert [(r["outlet"], r["documents"], r["spans"]) for r in rows] == [("Outlet A", 2, 4)]  # sun and mon
    assert st.overview(dated, scope)["period"] == "published 2024-05-02 to 2024-05-31"
    assert st.overview(dated, scope)["documents"] == 2

    compared = st.compare(dated, st.choose_scope(dated), "outlet", 3, dt.date(2024, 5, 7))
    a = next(r for r in compared if r["outlet"] == "Outlet A")
    assert (a["documents"], a["previous_documents"]) == (2, 1)  # May 4-6 against May 1-3
    assert a["spans_per_1000_words"] == 20.0 and a["previous_spans_per_1000_words"] == 20.0 and a["change"] == 0.0
    with pytest.raises(ValueError, match="compare works by outlet or technique"):
        st.compare(dated, st.choose_scope(dated), "month", 3)


def test_rates_carry_their_counts_and_intervals(dated: Store) -> None:
    row = next(r for r in st.by_outlet(dated, st.choose_scope(dated)) if r["outlet"] == "Outlet B")
    assert (row["documents"], row["words"], row["spans"], row["Loaded_Language_spans"]) == (1, 100, 2, 2)
    assert row["spans_per_1000_words"] == 20.0
    low, high = row["spans_per_1000_words_low"], row["spans_per_1000_words_high"]
    assert (low, high) == pytest.approx((5.485, 72.93), abs=0.01)  # 2 spans in 100 words: 20, but hardly known
    assert row["documents_with_spans"] == 1 and row["share_with_spans_low"] < 0.25
    assert st.wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert st.wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert st.poisson_interval(0, 1.0) == pytest.approx((0.0, 3.8415), abs=1e-4)


def test_stats_report_and_api_take_a_period(dated: Store, tmp_path: Path) -> None:
    db = dated.url
    res = CliRunner().invoke(
        app, ["stats", "--db", db, "--by", "week", "--since", "2024-05-02", "--until", "2024-06-01", "-f", "json"]
    )
    assert res.exit_code == 0, res.output
    assert [r["week"] for r in json.loads(res.stdout)] == ["2024-04-29", "2024-05-06"]
    res = CliRunner().invoke(app, ["stats", "--db", db, "--by", "outlet", "--compare", "3", "--until", "2024-05-07"])
    assert res.exit_code == 0 and "by outlet, last 3 days against the 3 before" in res.stdout
    res = CliRunner().invoke(
        app, ["stats", "--db", db, "--by", "outlet", "--since", "2024-06-01", "--until", "2024-05-01"]
    )
    assert res.exit_code == 2 and "must come before" in res.output

    out = tmp_path / "period.html"
    res = CliRunner().invoke(
        app, ["report", "--db", db, "-o", str(out), "--since", "2024-05-02", "--until", "2024-06-01"]
    )
    assert res.exit_code == 0, res.output
    assert "<b>Published 2024-05-02 to 2024-05-31.</b> 2 articles" in out.read_text(encoding="utf-8")
    res = CliRunner().invoke(app, ["report", "--db", db, "-o", str(out), "--every", "week", "--min-articles", "1"])
    page = out.read_text(encoding="utf-8")  # 3 dated weeks: plotted by week, the undated article said
    assert res.exit_code == 0 and "Fewer than two weeks" not in page and page.count("<svg") >= 2
    assert "1 articles without a date and 0 in weeks with fewer" in page

    from spinlens.web import create_app

    with TestClient(create_app(db_url=db, allowed_hosts=["testserver"], detector=_NoDetector())) as c:
        weeks = c.get("/api/stats/week", params={"since": "2024-05-02", "until": "2024-06-01"}).json()
        assert [(r["week"], r["documents"]) for r in weeks] == [("2024-04-29", 1), ("2024-05-06", 1)]
        compared = c.get("/api/stats/outlet", params={"compare_days": 3, "until": "2024-05-07"}).json()
        assert compared[0]["previous_documents"] == 1
        assert c.get("/api/stats/month", params={"since": "2024-06-01", "until": "2024-05-01"}).status_code == 422


class _NoDetector:
    """The stats routes never analyse: the app gets a stand-in so that no model is loaded for them."""

    name, version = "none", "0"


def test_the_outlet_table_of_a_large_corpus_lists_the_outlets_that_have_articles(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'big.db'}")
    long_name = "The Very Long Name of an Outlet That Would Push Every Number Off the Screen If It Did Not Wrap"
    for i in range(120):  # 120 outlets with one loud article each: their rates are the highest
        _save(store, f"one-{i}", f"Tiny outlet {i:03d}", spans=9)
    for j, outlet in enumerate(["Big A", "Big B", "Big C", "Big D", long_name, "Big F", "Big G", "Big H"]):
        for k in range(6 + j):
            _save(store, f"big-{j}-{k}", outlet, spans=1)
    page = render_corpus(store, limits=TableLimits(min_articles=5, top_outlets=5))
    table = page[page.index("<h2>Who uses") : page.index("<h2>When")]
    listed = re.findall(r'<span style="max-width:16rem;overflow-wrap:anywhere">([^<]*)</span>', table)
    assert listed == ["Big H", "Big G", "Big F", long_name, "Big D"]  # most articles first, 5 of them
    assert "Tiny outlet" not in table
    assert "120 outlets with fewer (120 articles) are left out" in table
    assert "of 8 with at least 5 articles" in table
    assert re.search(r"10 <span class=note>\([\d.]+&ndash;[\d.]+\)</span>", table)
