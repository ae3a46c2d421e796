"""``spinlens export`` and ``spinlens import``: a stored corpus out (Parquet, Label Studio, training files), reviews in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from spinlens.errors import InputError, SpinlensError

if TYPE_CHECKING:
    from spinlens.review.state import Reviewed


class ExportFormat(StrEnum):
    parquet = "parquet"
    labelstudio = "labelstudio"
    ptc = "ptc"
    spacy = "spacy"


class ImportTool(StrEnum):
    labelstudio = "labelstudio"


DB_HELP = "SQLAlchemy URL (default: $SPINLENS_DB or the user's SQLite)"


def export(
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="parquet: a folder for documents/analyses/spans.parquet; labelstudio: a .json file (its labelling "
            "config beside it); ptc: a new folder; spacy: a .spacy file",
        ),
    ],
    fmt: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            "-f",
            help="parquet (the corpus, for pandas/DuckDB/Spark); labelstudio (tasks to review: the model's spans as "
            "predictions); ptc or spacy (training data: human decisions only)",
        ),
    ] = ExportFormat.parquet,
    db: Annotated[str | None, typer.Option(help=DB_HELP)] = None,
    ids: Annotated[
        list[int] | None, typer.Option("--id", help="labelstudio, ptc, spacy: only this analysis (repeatable)")
    ] = None,
    query: Annotated[
        str | None,
        typer.Option("--query", "-q", help="labelstudio, ptc, spacy: only analyses whose title or text contains this"),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="labelstudio: at most this many tasks (the most uncertain)")
    ] = None,
    include_complete: Annotated[
        bool, typer.Option("--include-complete", help="labelstudio: also analyses whose review is complete")
    ] = False,
    corrections: Annotated[
        bool, typer.Option("--corrections", hidden=True, help="Accepted for old scripts; --format says it all")
    ] = False,
) -> None:
    """Export a stored corpus: as Parquet; as Label Studio tasks to review; or what people decided, to train on.

    labelstudio: stored analyses (all not yet reviewed, --query, --id) as tasks, most uncertain first, the spans as
    predictions (a score per region, model_version), never as annotations; import them back with spinlens import.

    ptc, spacy: human decisions only. Spans a person accepted, relabelled, moved or added are labels; rejected
    spans are negatives; a span nobody reviewed is never a label. Only analyses whose review a person marked
    complete go out: these formats read every unlabelled character as "no technique".

    Example: spinlens export --db sqlite:///corpus.db -o corpus-parquet/

    Example: spinlens export --format labelstudio -o review.json --db sqlite:///corpus.db

    Example: spinlens export --format ptc -o reviewed/ && spinlens train --extra reviewed/
    """
    from spinlens.cli import _fail, err
    from spinlens.store import Store

    if corrections and fmt is ExportFormat.parquet:
        _fail(InputError("--corrections needs --format ptc, spacy or labelstudio"))
    if fmt is ExportFormat.parquet and (ids or query or limit):
        _fail(InputError("--id, --query and --limit choose analyses for labelstudio, ptc or spacy, not parquet"))
    if (limit is not None or include_complete) and fmt is not ExportFormat.labelstudio:
        _fail(
            InputError(
                "--limit and --include-complete are for --format labelstudio (ptc and spacy take every complete review)"
            )
        )
    try:
        store = Store(db)
        if fmt is ExportFormat.parquet:
            from spinlens.store.export import export_parquet

            written = export_parquet(store, output)
            lines = [", ".join(f"{n:,} {name}" for name, n in written.items()) + f" written to {output}/"]
        else:
            lines = _export_reviewed(store, fmt, output, ids, query, limit, include_complete)
    except (SpinlensError, ValueError) as exc:
        _fail(exc)
    except OSError as exc:
        _fail(SpinlensError(f"{exc.filename or output}: {exc.strerror or exc}"))
    for line in lines:
        err.print(line, highlight=False, markup=False, soft_wrap=True)


def _export_reviewed(  # type: ignore[no-untyped-def]
    store,
    fmt: ExportFormat,
    output: Path,
    ids: list[int] | None,
    query: str | None,
    limit: int | None,
    include_complete: bool = False,
) -> list[str]:
    from spinlens.exchange import export_training
    from spinlens.review.tables import chosen, decided_ids

    if fmt is not ExportFormat.labelstudio:
        if ids or query:
            items = [r for r in chosen(store, ids, query) if r.decided]
        else:  # only where a person decided something
            decided = decided_ids(store)
            items = list(chosen(store, decided)) if decided else []
        if not items:
            raise InputError("no reviewed analyses to export (review some first: on the page, the API or Label Studio)")
        return export_training(items, fmt.value, output)
    import heapq

    from spinlens.exchange.labelstudio import write_tasks
    from spinlens.review.state import uncertainty

    left = {"scheme": 0, "complete": 0, "chosen": 0}

    def candidates() -> Iterator[Reviewed]:  # streamed: with --limit only that many are held in memory
        for r in chosen(store, ids, query):
            if r.model.scheme != "ptc14":
                left["scheme"] += 1
            elif r.complete and not ids and not include_complete:  # reviewed already: not sent again unless asked
                left["complete"] += 1
            else:
                left["chosen"] += 1
                yield r

    def rank(r: Reviewed) -> tuple[float, int]:
        return -uncertainty(r), r.analysis_id or 0

    items = heapq.nsmallest(limit, candidates(), key=rank) if limit is not None else list(candidates())
    notes = [f"left out {left['scheme']} analyses of another scheme than ptc14"] if left["scheme"] else []
    if left["complete"]:
        notes.append(f"left out {left['complete']} analyses whose review is complete (--include-complete adds them)")
    if limit is not None and left["chosen"] > limit:
        notes.append(f"the {limit} most uncertain of {left['chosen']} analyses")
    if not items:
        raise InputError(
            "no stored analysis to review"
            + (f" contains {query!r}" if query else "")
            + (" (all of them are reviewed: --include-complete exports them too)" if left["complete"] else "")
        )
    n, config = write_tasks(items, output)
    return [
        *notes,
        f"wrote {n} Label Studio tasks (most uncertain first) to {output} and their labelling config to {config}",
    ]


def import_reviews(
    tool: Annotated[ImportTool, typer.Argument(help="labelstudio: a Label Studio JSON export")],
    path: Annotated[Path, typer.Argument(help="The exported file")],
    db: Annotated[str | None, typer.Option(help=DB_HELP)] = None,
    users: Annotated[
        Path | None,
        typer.Option(help="Label Studio's users (save GET /api/users as JSON): annotators by email, not user id"),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and count what would be stored; store nothing")
    ] = False,
) -> None:
    """Read reviews back as corrections, by their annotators.

    Each task a person submitted (data.spinlens_analysis) becomes the fewest corrections (accept, reject, relabel,
    add) that make its analysis match that annotation, by labelstudio:ANNOTATOR, and marks its review complete.

    Regions left as predicted are accepted only in a submitted task; tasks nobody submitted (and drafts, skipped
    tasks) change nothing. Everything is checked first; a bad file stores nothing.

    Example: spinlens import labelstudio project-1-at-2026-11-28.json --db sqlite:///corpus.db
    """
    from spinlens.cli import _fail, err
    from spinlens.corrections import Correction
    from spinlens.document import Analysis
    from spinlens.exchange.labelstudio import read_export, read_users
    from spinlens.review.tables import mark_complete
    from spinlens.store import Store

    try:
        data = _read_json(path)
        names = read_users(_read_json(users), users) if users is not None else None
        store = Store(db)

        def lookup(analysis_id: int) -> tuple[Analysis, list[Correction]] | None:
            analysis = store.get(analysis_id)
            return (analysis, store.corrections(analysis_id)) if analysis is not None else None

        imported, skipped, superseded = read_export(data, lookup, path, names)
        made = [c for i in imported for c in i.corrections]
        if not dry_run:
            store.add_corrections(
                {i.analysis_id: i.corrections for i in imported}, {i.analysis_id: i.author for i in imported}
            )
            for i in imported:
                mark_complete(store, [i.analysis_id], i.author)
    except (SpinlensError, ValueError) as exc:
        _fail(exc)
    kinds = {k: sum(c.kind.value == k for c in made) for k in ("accept", "reject", "relabel", "add")}
    counted = ", ".join(f"{n} {k}" for k, n in kinds.items() if n)
    err.print(
        f"{'would store' if dry_run else 'stored'} {len(made)} corrections{f' ({counted})' if counted else ''} of "
        f"{len(imported)} submitted tasks ({'their reviews would be marked' if dry_run else 'their reviews marked'} "
        "complete)"
        + (f"; {skipped} tasks skipped: nobody submitted them, or not spinlens tasks" if skipped else "")
        + (
            f"; {len(superseded)} left alone, submitted before a later correction in spinlens: "
            + ", ".join(superseded[:5])
            + (" ..." if len(superseded) > 5 else "")
            if superseded
            else ""
        ),
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", path) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not JSON: {exc}", path) from None


def register(app: typer.Typer) -> None:
    """Add ``export`` and ``import`` to the ``spinlens`` command."""
    app.command("export")(export)
    app.command("import")(import_reviews)
