"""`spinlens watch` and `spinlens alerts` (hooked into the CLI by `register`)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from spinlens.errors import SpinlensError
from spinlens.sources.base import MAX_CHARS

EXIT_LOCKED = 75  # EX_TEMPFAIL: another run holds the database (cron: it will be tried again)


def watch(
    sources: Annotated[
        list[str],
        typer.Argument(help="Feed URLs (RSS/Atom), sitemap URLs, files and folders: polled every --every seconds"),
    ],
    db: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL (default: $SPINLENS_DB or SQLite in the user data directory)")
    ] = None,
    every: Annotated[float, typer.Option(min=1, help="Seconds between the starts of two rounds")] = 900,
    once: Annotated[bool, typer.Option("--once", help="One round, then exit (for cron)")] = False,
    rounds: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many rounds (default: run until stopped)")
    ] = None,
    rules: Annotated[
        Path | None,
        typer.Option(help="Alert rules and delivery, a TOML or JSON file (default: every rule with its defaults)"),
    ] = None,
    rule: Annotated[
        list[str] | None,
        typer.Option(
            help="An alert rule instead of the defaults (repeatable): TYPE or TYPE:key=value,... e.g. "
            "technique_rate:days=1,ratio=3 or new_target or narrative_outlets:outlets=5"
        ),
    ] = None,
    alerts_file: Annotated[
        Path | None, typer.Option(help="Append alerts to this JSON-lines file (also [deliver] jsonl in --rules)")
    ] = None,
    webhook: Annotated[
        str | None, typer.Option(help="POST each alert as JSON to this URL (also [deliver] webhook in --rules)")
    ] = None,
    outlet: Annotated[str | None, typer.Option(help="Outlet of every source (overrides what the feeds say)")] = None,
    model: Annotated[
        str | None, typer.Option(help="Model tier (fast, default, accurate) or directory (default: default)")
    ] = None,
    max_chars: Annotated[int, typer.Option(help="Longest document, in characters")] = MAX_CHARS,
) -> None:
    """Watch outlets: poll feeds, sitemaps and folders, analyse what is new or changed, raise alerts.

    One watch per database (a second one exits 75); SIGTERM stops it cleanly (exit 0); restart it any time: it
    goes on where it stopped. Feeds are asked with the ETag / Last-Modified of their last answer. With --once, the
    exit status is 1 when a source or an input could not be read.

    Example: spinlens watch https://example.org/feed.xml corpus/inbox/ --db sqlite:///news.db --every 600
    --alerts-file alerts.jsonl --webhook http://127.0.0.1:9000/hook
    """
    from spinlens.cli import _fail, err
    from spinlens.monitor import alerts as al
    from spinlens.monitor.watch import watch as run_watch
    from spinlens.scale.batch import Terminated, sigterm_as_interrupt
    from spinlens.scale.executors import ExecutorConfig
    from spinlens.sources import Options
    from spinlens.store import Store

    try:
        chosen, delivery = al.load_rules(rules) if rules else ((), al.Delivery())
        chosen = tuple(chosen) + tuple(al.parse_rule(spec) for spec in rule or [])
        chosen = chosen or al.DEFAULT_RULES
        if alerts_file or webhook:
            jsonl = str(alerts_file) if alerts_file else delivery.jsonl
            delivery = replace(delivery, jsonl=jsonl, webhook=webhook or delivery.webhook)
        store = Store(db)
    except (SpinlensError, ValueError) as exc:
        _fail(exc)
    for note in al.rule_notes(store, chosen):
        err.print(note, highlight=False, markup=False)
    options = Options(outlet=outlet, max_chars=max_chars)
    config = ExecutorConfig(model=model)
    where = store.engine.url.render_as_string(hide_password=True)
    failed = 0
    try:
        with sigterm_as_interrupt():
            for done in run_watch(
                sources,
                store,
                options,
                interval=every,
                rounds=1 if once else rounds,
                config=config,
                rules=chosen,
                delivery=delivery if (delivery.jsonl or delivery.webhook) else None,
            ):
                _print_round(done, where)
                failed = sum(p.failed for p in done.polled) + done.summary.failed_inputs
    except KeyboardInterrupt as exc:
        how = "stopped (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
        err.print(f"{how}: what was analysed is committed; start the watch again to go on", soft_wrap=True)
        raise typer.Exit(0 if isinstance(exc, Terminated) else 130) from None
    except SpinlensError as exc:
        if "another spinlens batch is running" in str(exc):
            err.print(f"not started: {exc}", highlight=False, markup=False, soft_wrap=True)
            raise typer.Exit(EXIT_LOCKED) from None
        _fail(exc)
    if once and failed:  # cron mails what a job prints and notices its exit status
        err.print(f"{failed} source(s) or input(s) failed this round (listed above): exit status 1", highlight=False)
        raise typer.Exit(1)


def _print_round(done, where: str) -> None:  # type: ignore[no-untyped-def]
    from spinlens.cli import err

    reg, summary = done.summary.registered, done.summary
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    err.print(
        f"{stamp} round {done.number} ({where}): {reg.new:,} new, {reg.changed:,} changed, {reg.duplicates:,} "
        f"duplicates, {reg.known:,} known, {reg.failed:,} unreadable; {summary.analysed:,} analysed, "
        f"{summary.failed:,} failed; {len(done.alerts)} alert(s)",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    for p in done.polled:
        err.print(f"  {p.source}: {p.status}", highlight=False, markup=False, soft_wrap=True)
    for ref, reason in summary.failures[:10]:
        err.print(f"  failed: {ref}: {reason}", highlight=False, markup=False, soft_wrap=True)
    for alert in done.alerts:
        err.print(f"  ALERT {alert.rule}: {alert.message}", highlight=False, markup=False, soft_wrap=True)


def alerts(
    db: Annotated[str | None, typer.Option(help="SQLAlchemy URL (default: $SPINLENS_DB or the user's SQLite)")] = None,
    since: Annotated[
        dt.datetime | None, typer.Option(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"], help="Only alerts raised since")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, the most recent first")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table")] = False,
) -> None:
    """List the alerts `spinlens watch` raised, the most recent first, with where each was delivered.

    Example: spinlens alerts --db sqlite:///news.db --since 2024-05-01
    """
    from spinlens.cli import _fail
    from spinlens.monitor.alerts import list_alerts
    from spinlens.store import Store

    try:
        rows = list_alerts(Store(db), since.replace(tzinfo=dt.UTC) if since else None, limit)
    except (SpinlensError, ValueError) as exc:
        _fail(exc)
    if as_json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return
    table = Table(title=f"alerts ({len(rows)})")
    for col in ("id", "raised", "rule", "outlet", "message", "delivered"):
        table.add_column(col, overflow="fold", max_width=80 if col == "message" else 30)
    for r in rows:
        delivered = ", ".join(k for k in ("file", "webhook") if r[f"to_{k}"]) or ("-" if not r["error"] else r["error"])
        table.add_row(str(r["id"]), r["created"][:19], r["rule"], r["outlet"] or "", r["message"], delivered)
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.command()(watch)
    app.command()(alerts)
