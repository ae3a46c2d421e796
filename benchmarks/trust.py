"""Can an analyst trust the answers? `python benchmarks/trust.py [--articles 40]`

Prints one table with the machine, the numbers and the targets of the trust issue (9):
- the short-text set (`tests/fixtures/short_texts.jsonl`, written for spinlens, never used to fit anything):
  share of technique examples found (a span of the right technique overlapping the expected phrase), share with a
  span of any technique there, and spans per 1,000 words on its neutral sentences;
- SemEval-2021 Task 6 memes (dev set, never trained on): memes without any technique that still get a span;
- context stability: PTC articles, the bundled op-ed and the short texts, each alone and placed between two
  neutral texts (the short-text set's neutral sentences): share of spans identical (start, end, technique);
- verdicts without evidence: techniques "present" in an article with no span of theirs (must be 0).
The PTC articles are the first N of cross-validation fold 0 (the shipped model was trained on all of PTC train,
these included: stability is a property of how text is read, not of having seen it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
SHORT = REPO / "tests" / "fixtures" / "short_texts.jsonl"
EXAMPLE = REPO / "src" / "spinlens" / "examples" / "op-ed.txt"
DATA = Path(os.environ.get("SPINLENS_DATA", REPO.parent / "shared" / "data"))
sys.path.insert(0, str(Path(__file__).parent))
from speed import cpu_name  # noqa: E402


def load_short() -> list[dict]:
    return [json.loads(line) for line in SHORT.read_text(encoding="utf-8").splitlines() if line.strip()]


def short_text_scores(nlp, items: list[dict]) -> dict:  # type: ignore[no-untyped-def]
    examples = [x for x in items if x["technique"]]
    neutral = [x for x in items if not x["technique"]]
    found, any_span, per = 0, 0, Counter()
    for x, a in zip(examples, nlp.pipe([x["text"] for x in examples]), strict=True):
        start = x["text"].index(x["phrase"])
        end = start + len(x["phrase"])
        over = [s for s in a.spans if s.start < end and s.end > start]
        any_span += bool(over)
        if any(s.technique == x["technique"] for s in over):
            found += 1
            per[x["technique"]] += 1
    words = sum(len(x["text"].split()) for x in neutral)
    neutral_spans = sum(len(a.spans) for a in nlp.pipe([x["text"] for x in neutral]))
    totals = Counter(x["technique"] for x in examples)
    return {
        "found": found / len(examples),
        "any_span": any_span / len(examples),
        "n": len(examples),
        "per_technique": {t: (per[t], totals[t]) for t in sorted(totals)},
        "neutral_per_1000": 1000 * neutral_spans / max(1, words),
        "neutral_spans": neutral_spans,
        "neutral_words": words,
        "neutral_n": len(neutral),
    }


def memes_without_technique(nlp) -> tuple[int, int] | None:  # type: ignore[no-untyped-def]
    path = DATA / "semeval2021-task6" / "data" / "dev_set_task2.txt"
    if not path.is_file():
        return None
    from spinlens.formats.semeval2021 import read_semeval2021

    clean = [doc for doc, spans in read_semeval2021(path) if not spans and doc.text.strip()]
    with_spans = sum(bool(a.spans) for a in nlp.pipe(clean))
    return with_spans, len(clean)


def ptc_articles(n: int) -> list[str]:
    folder = DATA / "ptc-semeval2020-task11" / "datasets" / "train-articles"
    if not folder.is_dir():
        return []
    from spinlens.evaluate.folds import article_folds
    from spinlens.formats.ptc import read_articles

    articles = read_articles(folder)
    folds = article_folds(list(articles))
    return [articles[k].text for k in sorted(articles) if folds[k] == 0][:n]


def stability(nlp, texts: list[str], before: str, after: str) -> tuple[float, float, int, int]:  # type: ignore[no-untyped-def]
    """Share of spans identical alone and in context; label-agreement F1; spans alone; present-without-span."""
    same = total = inside_total = orphan = 0
    for text, alone, wrapped in zip(
        texts, nlp.pipe(texts), nlp.pipe([before + text + after for text in texts]), strict=True
    ):
        shift = len(before)
        a = {(s.start, s.end, s.technique) for s in alone.spans}
        b = {
            (s.start - shift, s.end - shift, s.technique) for s in wrapped.spans if shift <= s.start < shift + len(text)
        }
        same, total, inside_total = same + len(a & b), total + len(a), inside_total + len(b)
        for analysis in (alone, wrapped):
            backed = {s.technique for s in analysis.spans}
            orphan += sum(v.present and v.technique not in backed for v in analysis.techniques)
    f1 = 2 * same / max(1, total + inside_total)
    return same / max(1, total), f1, total, orphan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=40, help="PTC fold-0 articles for the stability check")
    parser.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    args = parser.parse_args()

    import torch

    import spinlens

    nlp = spinlens.load(args.model).warm_up()
    items = load_short()
    short = short_text_scores(nlp, items)
    neutral = [x["text"] for x in items if not x["technique"]]
    half = len(neutral) // 2
    before = "\n\n".join(neutral[:half]) + "\n\n"
    after = "\n\n" + "\n\n".join(neutral[half:]) + "\n"
    articles = ptc_articles(args.articles)
    op_ed = EXAMPLE.read_text(encoding="utf-8")
    stab_ptc = stability(nlp, articles, before, after) if articles else None
    stab_other = stability(nlp, [op_ed] + [x["text"] for x in items if x["technique"]], before, after)
    memes = memes_without_technique(nlp)
    title = op_ed.splitlines()[0]
    title_spans = nlp(title).spans

    table = Table(title=f"spinlens trust benchmark, model {nlp.name} {nlp.version}")
    for col in ("measure", "this machine", "target (issue 9)"):
        table.add_column(col)
    table.add_row("machine", f"{cpu_name()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}", "")
    table.add_row(
        "short texts: technique examples found (right technique on the phrase)",
        f"{short['found']:.0%} of {short['n']}",
        ">= 80%",
    )
    table.add_row("short texts: examples with any span on the phrase", f"{short['any_span']:.0%}", "")
    table.add_row(
        "short texts: neutral sentences",
        f"{short['neutral_per_1000']:.1f} spans per 1,000 words ({short['neutral_spans']} in {short['neutral_words']} words, {short['neutral_n']} texts)",
        "<= 1 per 1,000 words",
    )
    if memes:
        table.add_row(
            "SemEval-2021 dev memes with no technique that get a span", f"{memes[0]} of {memes[1]}", "(was 28 of 41)"
        )
    if stab_ptc:
        table.add_row(
            f"context stability, {len(articles)} PTC fold-0 articles between neutral texts",
            f"{stab_ptc[0]:.1%} of {stab_ptc[2]} spans identical (label F1 {stab_ptc[1]:.3f})",
            ">= 95% (was 12 of 51 = 24%)",
        )
    table.add_row(
        "context stability, op-ed + short texts between neutral texts",
        f"{stab_other[0]:.1%} of {stab_other[2]} spans identical (label F1 {stab_other[1]:.3f})",
        ">= 95%",
    )
    orphans = stab_other[3] + (stab_ptc[3] if stab_ptc else 0)
    table.add_row("techniques 'present' with no span behind them", str(orphans), "0")
    table.add_row(
        f"op-ed title {title[:50]!r}...",
        "; ".join(f"{title[s.start : s.end]!r} {s.technique}" for s in title_spans) or "no span",
        "'Kiev regime' as Name_Calling",
    )
    Console().print(table)
    per = Table(title="short texts, per technique (found / examples)")
    per.add_column("technique")
    per.add_column("found")
    for t, (k, n) in short["per_technique"].items():
        per.add_row(t, f"{k} / {n}")
    Console().print(per)


if __name__ == "__main__":
    main()
