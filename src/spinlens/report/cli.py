"""`spinlens stats` and `spinlens report`: the corpus numbers of a store, over a period (hooked in by `register`)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from spinlens.errors import SpinlensError


class StatsBy(StrEnum):
    outlet = "outlet"
    day = "day"
    week = "week"
    month = "month"
    outlet_day = "outlet-day"
    outlet_week = "outlet-week"
    outlet_month = "outlet-month"
    technique = "technique"
    narrative = "narrative"
    language = "language"
    failure = "failure"


class Every(StrEnum):
    day = "day"
    week = "week"
    month = "month"


class TableFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]

Since = Annotated[
    dt.datetime | None,
    typer.Option(formats=DATE_FORMATS, help="Only articles published on or after this date (UTC, YYYY-MM-DD)"),
]
Until = Annotated[
    dt.datetime | None,
    typer.Option(formats=DATE_FORMATS, help="... and before this date (exclusive)"),
]
Last = Annotated[
    int | None, typer.Option(min=1, help="Only the last N days (up to --until, else now); overrides --since")
]


def period_of(since: dt.datetime | None, until: dt.datetime | None, last: int | None) -> tuple:  # type: ignore[type-arg]
    """(since, until) in UTC from the command's options; SpinlensError when they contradict each other."""
    until = until.replace(tzinfo=dt.UTC) if until and not until.tzinfo else until
    since = since.replace(tzinfo=dt.UTC) if since and not since.tzinfo else since
    if last:
        since = (until or dt.datetime.now(dt.UTC)) - dt.timedelta(days=last)
    if since and until and since >= until:
        raise SpinlensError(f"--since ({since.date()}) must come before --until ({until.date()})")
    return since, until


def _scope_and_profile(store, model: str | None, model_version: str | None):  # type: ignore[no-untyped-def]
    """The analyses to count, and the training profile of their model (when it is installed here)."""
    from spinlens.detect.pipeline import model_path
    from spinlens.store import stats

    scope = stats.choose_scope(store, model, model_version)
    try:
        config = model_path(scope.model) / "config.json"
    except SpinlensError:  # a model not installed here: the numbers stand without its training profile
        return scope, None
    profile = json.loads(config.read_text()).get("training_data") if config.is_file() else None
    return scope, profile


def stats(
    by: Annotated[
        StatsBy,
        typer.Option(
            help="Group by outlet, day, week, month, outlet-day|week|month or technique; 'narrative': known claims "
            "repeated per outlet and month; 'language': articles per language; 'failure' lists failed inputs"
        ),
    ],
    db: Annotated[str | None, typer.Option(help="SQLAlchemy URL (default: $SPINLENS_DB or the user's SQLite)")] = None,
    fmt: Annotated[TableFormat, typer.Option("--format", "-f", help="table, csv or json")] = TableFormat.table,
    since: Since = None,
    until: Until = None,
    last: Last = None,
    compare: Annotated[
        int | None,
        typer.Option(min=1, help="By outlet or technique: the last N days (to --until, else now) against the N before"),
    ] = None,
    min_articles: Annotated[int, typer.Option(min=0, help="Leave out groups with fewer articles")] = 0,
    top: Annotated[int, typer.Option(min=0, help="Only the N groups with the most articles (0: all)")] = 0,
    model: Annotated[str | None, typer.Option(help="Count this model's analyses (default: the most used)")] = None,
    model_version: Annotated[str | None, typer.Option(help="... and this version")] = None,
) -> None:
    """Corpus numbers as a table: techniques per outlet or period (per 1,000 words, with counts and, for small
    groups, a 95% interval), per technique, or failures. Each item counts once (its current version).

    Example: spinlens stats --db sqlite:///corpus.db --by outlet --since 2024-01-01 --min-articles 5 --top 30

    Example: spinlens stats --by outlet --compare 7   (this week against the week before)
    """
    from spinlens.cli import _fail
    from spinlens.store import Store
    from spinlens.store import stats as st

    try:
        store = Store(db)
        if by is StatsBy.failure:
            rows = st.failures(store)
        else:
            scope, _ = _scope_and_profile(store, model, model_version)
            scope = scope.period(*period_of(since, until, last))
            from spinlens.narratives import stats as narrative_stats

            mine = {"narrative": narrative_stats.by_narrative, "language": narrative_stats.languages}
            if compare and by.value not in mine:
                rows = st.compare(store, scope, by.value, compare, scope.until)
            else:
                rows = {**st.DIMENSIONS, **mine}[by.value](store, scope)
            rows = select_rows(rows, min_articles, top)
    except (SpinlensError, ValueError) as exc:
        _fail(exc)
    if fmt is TableFormat.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    if fmt is TableFormat.csv:
        import csv

        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["none"])
        writer.writeheader()
        writer.writerows(rows)
        return
    _print_stats_table(rows, by.value + (f", last {compare} days against the {compare} before" if compare else ""))


def select_rows(rows: list[dict], min_articles: int = 0, top: int = 0) -> list[dict]:
    """Groups with at least ``min_articles`` articles; with ``top``, the ``top`` with the most articles (in their
    order)."""
    if min_articles:
        rows = [r for r in rows if r.get("documents", 0) >= min_articles]
    if top and len(rows) > top:
        kept = {id(r) for r in sorted(rows, key=lambda r: -r.get("documents", 0))[:top]}
        rows = [r for r in rows if id(r) in kept]
    return rows


_SHORT_HEADERS = {
    "documents": "articles",
    "spans_per_1000_words": "per 1k words",
    "mean_propaganda_score": "mean score",
    "documents_with_spans": "articles with it",
    "share_of_documents": "share",
    "share_with_spans": "share with spans",
    "mean_span_confidence": "mean conf.",
    "previous_documents": "articles before",
    "previous_spans": "spans before",
    "previous_spans_per_1000_words": "per 1k words before",
}


def _interval_text(r: dict, key: str) -> str:
    """A rate, with its 95% interval when its group is small (fewer than `stats.SMALL` articles)."""
    from spinlens.store.stats import SMALL

    value = r[key]
    if f"{key}_low" in r and r.get("documents", SMALL) < SMALL:
        return f"{value:.4g} ({r[key + '_low']:.3g}-{r[key + '_high']:.3g})"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _print_stats_table(rows: list[dict], by: str) -> None:
    from spinlens.cli import err
    from spinlens.taxonomy import display_name

    if not rows:
        err.print("nothing to show")
        return
    per_technique = [k for k in rows[0] if k.endswith("_per_1000_words") and not k.startswith(("spans", "previous"))]
    hidden = {k for k in rows[0] if k.endswith(("_low", "_high"))} | {k for k in rows[0] if k.endswith("_spans")}
    table = Table(
        title=f"by {by}"
        + (" (rates per 1,000 words; 95% interval where fewer than 30 articles)" if per_technique else "")
    )
    plain = [k for k in rows[0] if k not in per_technique and k not in hidden]
    for k in plain:
        table.add_column(_SHORT_HEADERS.get(k, k.replace("_", " ")), overflow="fold", max_width=40)
    if per_technique:
        table.add_column("top techniques: rate (spans)", overflow="fold")
    for r in rows:
        cells = [display_name(str(r[k])) if k == "technique" else _interval_text(r, k) for k in plain]
        if per_technique:
            top = sorted(((r[k], k.removesuffix("_per_1000_words")) for k in per_technique), reverse=True)[:3]
            cells.append(", ".join(f"{display_name(t)} {v:g} ({r.get(t + '_spans', 0)})" for v, t in top if v))
        table.add_row(*cells)
    Console().print(table)


def report(
    db: Annotated[str | None, typer.Option(help="SQLAlchemy URL (default: $SPINLENS_DB or the user's SQLite)")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="The report (its article pages go beside it)")] = Path(
        "report.html"
    ),
    articles: Annotated[int, typer.Option(help="Most propaganda-dense articles listed, each with its own page")] = 20,
    since: Since = None,
    until: Until = None,
    last: Last = None,
    min_articles: Annotated[
        int, typer.Option(min=1, help="Outlets and months with fewer articles are left out of tables and plots")
    ] = 5,
    top: Annotated[
        int, typer.Option(min=1, help="Outlets listed in the outlet table (those with the most articles)")
    ] = 30,
    every: Annotated[Every, typer.Option(help="Plot over time by day, week (from Monday) or month")] = Every.month,
    model: Annotated[str | None, typer.Option(help="Report this model's analyses (default: the most used)")] = None,
    model_version: Annotated[str | None, typer.Option(help="... and this version")] = None,
) -> None:
    """A standalone HTML report of a corpus: techniques per outlet and over time, phrases, densest articles.

    Example: spinlens report --db sqlite:///corpus.db -o report.html --last 30
    """
    from spinlens.cli import _fail, err
    from spinlens.report.corpus import TableLimits, write_corpus_report
    from spinlens.store import Store

    try:
        store = Store(db)
        scope, profile = _scope_and_profile(store, model, model_version)
        scope = scope.period(*period_of(since, until, last))
        limits = TableLimits(min_articles, top)
        path = write_corpus_report(store, output, scope, profile, articles, limits, every.value)
    except (SpinlensError, ValueError) as exc:
        _fail(exc)
    err.print(f"wrote {path} (and its article pages in {path.with_name(path.stem + '-articles')}/)")


def register(app: typer.Typer) -> None:
    app.command()(stats)
    app.command()(report)
