"""A shipped model on the genre set (spinlens/data/genre, issue 19). `python benchmarks/genre_check.py [--model NAME]`

Prints one table with the machine and, per set:
- sentences (each alone) and docs (sentences one a line): SI and FLC (PTC scorers), name-calling recall (a gold
  Name_Calling span overlapped by a predicted Name_Calling span; "any": by a span of any technique), "Kiev regime"
  found as name-calling, and neutral sentences that get a span;
- wire reports (neutral, quoting officials and their labels): false spans and reports with one;
- short texts: right technique on the marked phrase, any span on it, neutral one-liners with a span.
The model has never been trained on this set unless its card says so: then these are training-set numbers, and the
genre check must come from `genre_folds` cross-validation instead.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
from speed import cpu_name  # noqa: E402

from spinlens.evaluate.scorers import score_flc, score_si  # noqa: E402
from spinlens.formats.ptc import Label  # noqa: E402
from spinlens.training import genre  # noqa: E402

NC = "Name_Calling,Labeling"


def predict(nlp, corpus: genre.GenreCorpus) -> list[Label]:  # type: ignore[no-untyped-def]
    ids = list(corpus.articles)
    out = []
    for aid, analysis in zip(ids, nlp.pipe([corpus.articles[a].text for a in ids]), strict=True):
        out += [Label(aid, s.start, s.end, s.technique) for s in analysis.spans]
    return out


def hit(gold: Label, pred: list[Label], same_technique: bool) -> bool:
    return any(
        p.article_id == gold.article_id
        and p.start < gold.end
        and gold.start < p.end
        and (not same_technique or p.technique == gold.technique)
        for p in pred
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model name or path (default: the default tier)")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    import spinlens

    nlp = spinlens.load(args.model, threads=args.threads)
    t0 = time.perf_counter()
    rows: list[tuple[str, str]] = []
    for unit in ("sentence", "doc"):
        c = genre.corpus("sentences", unit)
        pred = predict(nlp, c)
        si, flc = score_si(c.labels, pred), score_flc(c.labels, pred)
        nc = [x for x in c.labels if x.technique == NC]
        kiev = [x for x in nc if c.articles[x.article_id].text[x.start : x.end] == "Kiev regime"]
        gold_ids = {x.article_id for x in c.labels}
        neutral = [a for a in c.articles if a not in gold_ids]
        rows += [
            (f"{unit}s: SI F1 (P / R)", f"{si.f1:.3f} ({si.precision:.3f} / {si.recall:.3f})"),
            (f"{unit}s: FLC F1", f"{flc.f1:.3f}"),
            (
                f"{unit}s: name-calling recall (any span)",
                f"{sum(hit(x, pred, True) for x in nc) / len(nc):.2f} "
                f"({sum(hit(x, pred, False) for x in nc) / len(nc):.2f}) of {len(nc)}",
            ),
            (
                f"{unit}s: 'Kiev regime' found as name-calling",
                f"{sum(hit(x, pred, True) for x in kiev)} of {len(kiev)}",
            ),
            (
                f"{unit}s: neutral {unit}s with a span",
                f"{len({p.article_id for p in pred} & set(neutral))} of {len(neutral)}",
            ),
        ]
        if unit == "sentence":
            rows.append(
                (
                    "sentences: predicted techniques",
                    ", ".join(f"{t} {n}" for t, n in Counter(p.technique for p in pred).most_common()),
                )
            )
    w = genre.corpus("wire_reports")
    wp = predict(nlp, w)
    rows.append(
        (
            "wire reports: false spans (reports with one)",
            f"{len(wp)} ({len({p.article_id for p in wp})} of {len(w.articles)})",
        )
    )
    s = genre.corpus("short_texts")
    sp = predict(nlp, s)
    gold_by: dict[str, list[Label]] = {}
    for x in s.labels:
        gold_by.setdefault(x.article_id, []).append(x)
    right = sum(1 for xs in gold_by.values() if any(hit(x, sp, True) for x in xs))
    anyspan = sum(1 for xs in gold_by.values() if any(hit(x, sp, False) for x in xs))
    neutral = [a for a in s.articles if a not in gold_by]
    rows += [
        ("short texts: right technique on the phrase", f"{right} of {len(gold_by)}"),
        ("short texts: any span on the phrase", f"{anyspan} of {len(gold_by)}"),
        (
            "short texts: neutral one-liners with a span",
            f"{len({p.article_id for p in sp} & set(neutral))} of {len(neutral)}",
        ),
    ]
    table = Table(title=f"genre check, model {args.model or 'default'}, {cpu_name()}, {time.perf_counter() - t0:.0f} s")
    table.add_column("measure")
    table.add_column("value")
    for k, v in rows:
        table.add_row(k, v)
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
