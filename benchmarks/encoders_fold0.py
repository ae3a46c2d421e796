"""Encoders compared on one fold: `python benchmarks/encoders_fold0.py RUN_DIR:KIND[:LAYERS] ...`.

For exploring before a 5-fold run (issue 10: "explore on one or two folds, spend the 5-fold runs on what won"):
each RUN_DIR is a `spinlens train` run directory whose fold-0 tagger has finished (``seed-0/outputs-0.npz``),
trained on the encoder KIND (minilm, mpnet) and LAYERS (default 3,6 / 6). Every run is scored on the same
held-out fold-0 articles with the same stage 2: the technique classifier fitted on the other folds' gold spans,
and two decision settings: the default tier's shipped parameters (the same for all), and the best pair of span
thresholds for each run (an optimistic bound, shown to see what each encoder could give).

Example: python benchmarks/encoders_fold0.py runs/ptc:minilm runs/mpnet:mpnet
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
from speed import cpu_name  # noqa: E402


def main() -> None:
    from spinlens.detect.encoder import Encoder
    from spinlens.detect.pipeline import load
    from spinlens.evaluate.folds import article_folds
    from spinlens.formats.ptc import read_articles, read_labels
    from spinlens.training.examples import build_examples
    from spinlens.training.train import TECHNIQUES, load_outputs
    from spinlens.training.tune import SPAN_THRESHOLDS, evaluate_fold, fold_predictions

    data = Path(os.environ.get("SPINLENS_DATA", "../shared/data")) / "ptc-semeval2020-task11" / "datasets"
    articles = read_articles(data / "train-articles")
    labels = read_labels(data / "train-task-flc-tc.labels", articles)
    folds = article_folds(list(articles))
    shipped = load("default").params
    table = Table(title=f"Fold 0 of 5 ({sum(f == 0 for f in folds.values())} held-out PTC train articles)")
    for col in ("run", "encoder", "decisions", "SI", "TC", "FLC", "article"):
        table.add_column(col)
    for arg in sys.argv[1:]:
        run, kind, *rest = arg.split(":")
        encoder = Encoder(tuple(int(k) for k in rest[0].split(",")) if rest else None, kind=kind)
        examples = build_examples(articles, labels, encoder)
        outputs = load_outputs([Path(run) / "seed-0" / "outputs-0.npz"], examples)
        pred = fold_predictions(0, examples, folds, outputs, TECHNIQUES)
        best = max(
            (replace(shipped, span_threshold=lo, span_accept=hi) for lo, hi in SPAN_THRESHOLDS),
            key=lambda p: evaluate_fold(pred, p, TECHNIQUES)["si"],
        )
        for name, params in (
            ("shipped default", shipped),
            (f"best SI pair {best.span_threshold}/{best.span_accept}", best),
        ):
            r = evaluate_fold(pred, params, TECHNIQUES)
            table.add_row(run, encoder.name, name, *[f"{r[m]:.3f}" for m in ("si", "tc", "flc", "article")])
    Console().print(table)
    Console().print(f"machine: {cpu_name()}, {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
