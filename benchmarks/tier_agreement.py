"""What a tier's runtime costs a model: `python benchmarks/tier_agreement.py [--tiers default fast] [--data DIR]`

Two tiers that run the same trained model (the fast tier is the default tier's version 3 with its encoder in int8)
on the 371 PTC train articles: SI and FLC F1 of each against the gold labels (in-sample: the model was trained on
these articles, so the numbers are high and only their difference says something), and the second tier's spans
scored against the first's as if they were gold. Prints a table with the machine named.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
from speed import cpu_name  # noqa: E402

import spinlens  # noqa: E402
from spinlens.document import Document  # noqa: E402
from spinlens.evaluate.scorers import score_flc, score_si  # noqa: E402
from spinlens.formats.ptc import Label  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiers", nargs=2, default=["default", "fast"])
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("SPINLENS_DATA", "../shared/data")))
    args = ap.parse_args()
    root = args.data / "ptc-semeval2020-task11" / "datasets"
    gold = []
    for line in (root / "train-task-flc-tc.labels").read_text(encoding="utf-8").splitlines():
        aid, technique, start, end = line.split("\t")
        gold.append(Label(aid, int(start), int(end), technique))
    docs = [
        Document(id=p.stem.removeprefix("article"), text=p.read_text(encoding="utf-8"))
        for p in sorted((root / "train-articles").glob("article*.txt"))
    ]
    preds: dict[str, list[Label]] = {}
    seconds: dict[str, float] = {}
    for tier in args.tiers:
        nlp = spinlens.load(tier).warm_up()
        t = time.perf_counter()
        preds[tier] = [
            Label(d.id, s.start, s.end, s.technique)
            for d, a in zip(docs, nlp.pipe(docs, batch_size=8), strict=True)
            for s in a.spans
        ]
        seconds[tier] = time.perf_counter() - t

    def spans(labels: list[Label]) -> list[Label]:
        return [Label(x.article_id, x.start, x.end) for x in labels]

    first, second = args.tiers
    table = Table(title=f"{first} vs {second} on {len(docs)} PTC train articles (in-sample), {cpu_name()}")
    for col in ("measure", first, second, "difference"):
        table.add_column(col)
    si = {t: score_si(gold, spans(p)).f1 for t, p in preds.items()}
    flc = {t: score_flc(gold, p).f1 for t, p in preds.items()}
    table.add_row("SI F1", f"{si[first]:.4f}", f"{si[second]:.4f}", f"{si[second] - si[first]:+.4f}")
    table.add_row("FLC F1", f"{flc[first]:.4f}", f"{flc[second]:.4f}", f"{flc[second] - flc[first]:+.4f}")
    n = {t: len(p) for t, p in preds.items()}
    table.add_row("spans", str(n[first]), str(n[second]), f"{n[second] / max(n[first], 1) - 1:+.1%}")
    table.add_row("seconds (batches of 8)", f"{seconds[first]:.0f}", f"{seconds[second]:.0f}", "")
    Console(width=120).print(table)
    agree_si = score_si(spans(preds[first]), spans(preds[second]))
    agree = score_flc(preds[first], preds[second])
    print(
        f"{second}'s spans against {first}'s as gold: SI F1 {agree_si.f1:.3f}; "
        f"FLC precision {agree.precision:.3f}, recall {agree.recall:.3f}, F1 {agree.f1:.3f}"
    )


if __name__ == "__main__":
    main()
