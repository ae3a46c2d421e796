"""`spinlens batch`: the command over `spinlens.scale.run_batch` (hooked into the CLI by `register`).

Exit status: 0 when every input was read and analysed; 1 when the run finished but some input or analysis failed
(each named in the summary, all of them in `spinlens stats --by failure`), so that cron and CI notice; 2 on an
error that stopped the run; 130 / 143 after Ctrl-C / SIGTERM (what was done is committed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from spinlens.errors import SpinlensError
from spinlens.sources.base import MAX_CHARS

EXIT_INPUTS_FAILED = 1


def batch(
    inputs: Annotated[
        list[Path] | None,
        typer.Argument(help="Files and folders: .txt, .html, .jsonl, .csv, RSS/Atom (.rss .atom .xml); none: resume"),
    ] = None,
    db: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL (default: $SPINLENS_DB or SQLite in the user data directory)")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Worker processes (default: one per core that free memory allows; 0: in this process)"),
    ] = None,
    ray: Annotated[bool, typer.Option("--ray", help="Run on a Ray cluster (pip install 'spinlens\\[ray]')")] = False,
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster address (default: $RAY_ADDRESS, else a local cluster)")
    ] = None,
    ray_stall_timeout: Annotated[
        float, typer.Option(help="Stop a Ray run (committed, exit 75) after this many seconds without a result")
    ] = 600.0,
    text_field: Annotated[str, typer.Option(help="CSV column / JSON field with the text")] = "text",
    id_field: Annotated[
        str | None,
        typer.Option(
            help="... that identifies a row across re-downloads (default: id, url or guid, the first a row has; "
            "a row with none is identified by its text and outlet)"
        ),
    ] = None,
    title_field: Annotated[str, typer.Option(help="... with the title")] = "title",
    source_field: Annotated[
        str, typer.Option(help="... with the outlet ('A+B': the article counts for each)")
    ] = "source",
    url_field: Annotated[str, typer.Option(help="... with the URL")] = "url",
    date_field: Annotated[str, typer.Option(help="... with the publication date (ISO 8601)")] = "date",
    outlet: Annotated[str | None, typer.Option(help="Outlet of every input (overrides what the files say)")] = None,
    outlet_from_folder: Annotated[
        bool,
        typer.Option(
            help="Outlet = the first sub-folder under an input folder (corpus/<outlet>/...), where the input does "
            "not name one itself (a row's source column, a feed's title, a page's site)"
        ),
    ] = False,
    model: Annotated[
        str | None, typer.Option(help="Model tier (fast, default, accurate) or directory (default: default)")
    ] = None,
    max_chars: Annotated[
        int, typer.Option(help="Longest document, in characters: longer ones are recorded failures")
    ] = MAX_CHARS,
    commit_every: Annotated[int, typer.Option(help="Results per database transaction (and at least every 5 s)")] = 32,
    catalogue: Annotated[
        list[str] | None,
        typer.Option(
            help="Match every text against this catalogue of known claims (a name in --db, or a file); texts "
            "analysed before are matched too; repeatable"
        ),
    ] = None,
) -> None:
    """Analyse a corpus into a database: resumable (rerun the same command after a crash), one model per core.

    Re-reading a source is safe: rows are known by their id, feed entries by their GUID, files by their path; a
    changed text is analysed again as a new version. Exit status 1 when any input failed (listed), 2 on an error.

    Example: spinlens batch corpus/ feeds/world.rss --db sqlite:///corpus.db --outlet-from-folder
    """
    from concurrent.futures import BrokenExecutor
    from concurrent.futures.process import BrokenProcessPool

    from spinlens.cli import _fail, err
    from spinlens.formats.rows import Columns
    from spinlens.scale import run_batch
    from spinlens.scale.batch import Terminated, sigterm_as_interrupt
    from spinlens.scale.executors import ExecutorConfig
    from spinlens.sources import Options
    from spinlens.store import Store

    columns = Columns(text_field, id_field or "id", title_field, source_field, url_field, date_field)
    options = Options(
        columns=columns, outlet=outlet, outlet_from_folder=outlet_from_folder, max_chars=max_chars, id_field=id_field
    )
    executor = "ray" if ray else ("local" if workers == 0 else "pool")
    config = ExecutorConfig(
        model=model,
        workers=workers or None,
        ray_address=ray_address,
        ray_stall_timeout=ray_stall_timeout,
        catalogues=tuple(catalogue or ()),
        db=db,
    )
    missing = [str(p) for p in inputs or [] if not p.exists()]
    if missing:
        _fail(SpinlensError(f"no such file or folder: {', '.join(missing)}"))
    try:
        with sigterm_as_interrupt():  # SIGTERM (kill, systemd, docker stop) stops a run like Ctrl-C
            store = Store(db)
            summary = run_batch(inputs or [], store, options, executor, config, commit_every=commit_every)
            if catalogue:  # analyses stored before, without these catalogues: their sentences matched now
                from spinlens.narratives.catchup import match_stored

                rematched = match_stored(store, config)
    except (SpinlensError, ValueError) as exc:
        _fail(exc)
    except KeyboardInterrupt as exc:
        how = "stopped (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
        err.print(f"{how}: the results done so far are committed; run the same command again to go on", soft_wrap=True)
        raise typer.Exit(143 if isinstance(exc, Terminated) else 130) from None
    except BrokenProcessPool:
        _fail(SpinlensError("a worker process died (out of memory?); what was committed stays: run the command again"))
    except BrokenExecutor as exc:  # a lost Ray cluster: one line, exit 75 (EX_TEMPFAIL: try again later)
        line = f"error: {exc}; the results done so far are committed; run the same command again to go on"
        err.print(line, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(75) from None
    print_summary(summary, f"spinlens batch: {store.engine.url.render_as_string(hide_password=True)}")
    if catalogue:
        err.print(f"earlier analyses matched against the catalogue(s): {rematched:,}", highlight=False)
    reg = summary.registered
    if inputs and reg.new + reg.duplicates + reg.known == 0:
        _fail(SpinlensError(f"no document found in {', '.join(map(str, inputs))}"))
    if summary.failed_inputs:
        err.print(
            f"{summary.failed_inputs:,} input(s) failed (listed above): exit status {EXIT_INPUTS_FAILED}",
            highlight=False,
        )
        raise typer.Exit(EXIT_INPUTS_FAILED)


def print_summary(summary, title: str) -> None:  # type: ignore[no-untyped-def]
    """The summary table of a run (`spinlens.scale.batch.Summary`) and its first failures, on stderr."""
    from spinlens.cli import err

    reg = summary.registered
    table = Table(title=title, show_header=False)
    table.add_row("new documents", f"{reg.new:,}")
    table.add_row("changed since last read: new versions (old kept, superseded)", f"{reg.changed:,}")
    table.add_row("duplicates linked (not analysed again)", f"{reg.duplicates:,}")
    table.add_row("skipped: already in the database", f"{reg.known:,}")
    table.add_row("unreadable inputs", f"{reg.failed:,}")
    if reg.still_failing:
        table.add_row("still unreadable (as in an earlier run; of those skipped)", f"{reg.still_failing:,}")
    for reason, n in sorted(summary.skipped.items()):
        table.add_row(f"files passed over: {reason}", f"{n:,}")
    table.add_row("analysed", f"{summary.analysed:,} ({summary.rate:.1f}/s over {summary.analyse_seconds:.0f} s)")
    table.add_row("analysis failures", f"{summary.failed:,}")
    err.print(table)
    if reg.changes:
        shown = reg.changes[:10]
        err.print(f"changed ({len(shown)} of {reg.changed:,} shown):", highlight=False)
        for ref in shown:
            err.print(f"  {ref}", highlight=False, markup=False)
    if summary.failures:
        shown = summary.failures[:20]
        err.print(f"failures ({len(shown)} shown; all of them: spinlens stats --by failure):")
        for ref, reason in shown:
            err.print(f"  {ref}: {reason}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.command()(batch)
