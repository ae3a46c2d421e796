"""Detection per tier (issue 19), one table: `python benchmarks/detection.py [--tiers fast default accurate]`

Per tier:
- PTC 5-fold cross-validation (SI / TC / FLC), from the model's card (`config.json`, written by `spinlens train`);
- the genre check (src/spinlens/data/genre, state-media style): cross-validated (folds by text) where the model was
  trained on the set, else measured live on it (the model never saw it);
- the short-text check: one-liners with one technique each (right technique on the phrase, any span on it) and
  neutral one-liners with a span; never trained on;
- neutral wire reports quoting officials: false spans (reports with one); never trained on;
- name-calling precision / recall on the genre check, cross-validated (the card's stage-2 report), and name-calling
  recall and "Kiev regime" on the genre sentences (live: training numbers where trained on them);
- the seed op-ed's title: does "Kiev regime" get a Name_Calling span;
- articles/s, one at a time (700-word article), from the card's `speed` (`benchmarks/speed.py --record`).
Peers: the SemEval-2020 Task 11 winners (SI 0.516, TC 0.621 on the PTC test set, GPU ensembles).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
from genre_check import NC, hit, predict  # noqa: E402
from speed import cpu_name  # noqa: E402

from spinlens.evaluate.scorers import score_flc, score_si  # noqa: E402
from spinlens.formats.ptc import Label  # noqa: E402
from spinlens.tiers import cv_scope  # noqa: E402
from spinlens.training import genre  # noqa: E402

TITLE = "Kiev regime"


def measure(tier: str, threads: int | None) -> dict[str, str]:
    import spinlens
    from spinlens.detect.pipeline import model_path
    from spinlens.errors import SpinlensError

    try:
        nlp = spinlens.load(tier, threads=threads)
        nlp.warm_up()
    except SpinlensError as exc:
        return {"model": f"not installed: {exc}"}
    cv = nlp.config.cross_validation or {}
    mean = cv.get("mean", {})
    row = {
        "model": f"{nlp.name} {nlp.version}",
        "PTC CV SI / TC / FLC": " / ".join(f"{mean.get(m, float('nan')):.3f}" for m in ("si", "tc", "flc")),
    }
    of = " in float32" if cv.get("scores_of") else ""  # the fast tier: its model's CV, encoder in torch float32
    row["PTC CV SI / TC / FLC"] += of
    scope = cv_scope(cv)  # a CPU session's partial CV: the folds done so far
    if scope:
        row["PTC CV SI / TC / FLC"] += f" ({scope})"
    sentences = genre.corpus("sentences", "doc")
    pred = predict(nlp, sentences)
    if "genre" in cv:
        g = cv["genre"]["mean"]  # type: ignore[index]
        how = f"5-fold CV{of}"
        if scope:
            how = f"CV on {scope}{of}"
        elif cv.get("folds") == 1:
            how = "one fold, tuned in-fold"
        row["genre SI / FLC"] = f"{g['si']:.3f} / {g['flc']:.3f} ({how})"
    else:
        si, flc = score_si(sentences.labels, pred), score_flc(sentences.labels, pred)
        row["genre SI / FLC"] = f"{si.f1:.3f} / {flc.f1:.3f} (never trained on it)"
    per_technique = cv.get("genre", {}).get("per_technique_cv", {}).get(NC)  # type: ignore[union-attr]
    if per_technique:  # the state-media measure, cross-validated on the genre set
        row["genre name-calling P / R (5-fold CV)"] = (
            f"{per_technique['precision']:.2f} / {per_technique['recall']:.2f}"
        )
    trained = " (trained on)" if "genre" in cv else ""
    nc = [x for x in sentences.labels if x.technique == NC]
    kiev = [x for x in nc if sentences.articles[x.article_id].text[x.start : x.end] == TITLE]
    row["genre name-calling recall" + trained] = f"{sum(hit(x, pred, True) for x in nc) / len(nc):.2f} of {len(nc)}"
    row["'Kiev regime' as name-calling" + trained] = f"{sum(hit(x, pred, True) for x in kiev)} of {len(kiev)}"
    short = genre.corpus("short_texts")
    sp = predict(nlp, short)
    gold: dict[str, list[Label]] = {}
    for x in short.labels:
        gold.setdefault(x.article_id, []).append(x)
    right = sum(any(hit(x, sp, True) for x in xs) for xs in gold.values())
    anyspan = sum(any(hit(x, sp, False) for x in xs) for xs in gold.values())
    neutral = [a for a in short.articles if a not in gold]
    row["one-liners: right technique / any span"] = f"{right} / {anyspan} of {len(gold)}"
    row["neutral one-liners with a span"] = f"{len({p.article_id for p in sp} & set(neutral))} of {len(neutral)}"
    wire = genre.corpus("wire_reports")
    wp = predict(nlp, wire)
    row["wire reports: false spans (reports)"] = (
        f"{len(wp)} ({len({p.article_id for p in wp})} of {len(wire.articles)})"
    )
    oped = (model_path().parent.parent / "examples" / "op-ed.txt").read_text(encoding="utf-8")
    title_end = oped.index("\n")
    at = oped.index(TITLE)
    found = [
        s for s in nlp(oped).spans if s.technique == NC and s.start < at + len(TITLE) and at < s.end <= title_end + 1
    ]
    row["op-ed title: 'Kiev regime' as name-calling"] = "yes" if found else "no"
    speed = (nlp.config.speed or {}).get("articles_per_s")
    row["articles/s (one at a time)"] = f"{speed:.2f}" if isinstance(speed, int | float) else "not measured"
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiers", nargs="*", default=["fast", "default", "accurate"], help="tiers or model directories")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows = {tier: measure(tier, args.threads) for tier in args.tiers}
    table = Table(
        title=f"detection per tier, {cpu_name()}, {time.perf_counter() - t0:.0f} s (peer: SemEval-2020 winners SI 0.516, TC 0.621 on PTC test)"
    )
    table.add_column("measure")
    for tier in args.tiers:
        table.add_column(tier)
    keys = list(dict.fromkeys(k for r in rows.values() for k in r))
    for k in keys:
        table.add_row(k, *[rows[t].get(k, "") for t in args.tiers])
    Console(width=180).print(table)


if __name__ == "__main__":
    main()
