"""The `spinlens` command: a thin layer over the Python API. User mistakes print one line, never a traceback."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from spinlens.errors import SpinlensError

app = typer.Typer(
    help="spinlens: find, label and explain propaganda techniques in news.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err = Console(stderr=True)


@app.callback()
def _root() -> None:
    """spinlens: find, label and explain propaganda techniques in news (offline, on a CPU)."""


class Task(StrEnum):
    si = "si"
    tc = "tc"
    flc = "flc"
    article = "article"


def _fail(exc: Exception) -> None:
    err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(2)


@app.command()
def evaluate(
    gold: Annotated[Path, typer.Argument(help="Gold labels: a PTC label file or a folder of per-article files")],
    pred: Annotated[Path, typer.Argument(help="Predicted labels, same format")],
    task: Annotated[
        Task, typer.Option(help="si: spans; tc: techniques given gold spans; flc: both; article")
    ] = Task.flc,
    articles: Annotated[Path | None, typer.Option(help="Article folder: checks every offset against its text")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON line instead of a table")] = False,
) -> None:
    """Score predicted labels against gold ones with the SemEval-2020 Task 11 definitions.

    Example: spinlens evaluate --task si gold.labels pred.labels --articles train-articles/
    """
    from spinlens.evaluate import evaluate as run
    from spinlens.formats.ptc import read_articles, read_labels

    try:
        docs = read_articles(articles) if articles else None
        gold_labels = read_labels(gold, docs)
        pred_labels = read_labels(pred, docs)
        score = run(task.value, gold_labels, pred_labels)
    except (SpinlensError, ValueError) as exc:
        _fail(exc)
    if as_json:
        print(json.dumps(score.as_dict()))
        return
    table = Table(title=f"{task.value.upper()}: {pred.name} against {gold.name}")
    for col in ("", "precision", "recall", "F1", "support"):
        table.add_column(col, justify="right" if col else "left")
    table.add_row("micro", f"{score.precision:.4f}", f"{score.recall:.4f}", f"{score.f1:.4f}", str(score.n_gold))
    if score.macro_f1 is not None:
        table.add_row("macro", "", "", f"{score.macro_f1:.4f}", "")
    for tech, v in score.per_technique.items():
        table.add_row(tech, f"{v['precision']:.4f}", f"{v['recall']:.4f}", f"{v['f1']:.4f}", str(int(v["support"])))
    Console().print(table)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
