"""Fitting the matcher (`matcher.Fitted`): ranker weights, calibration and thresholds; apart from inference.

    python -m spinlens.narratives.train --data ../shared/data      # writes narratives/model/matcher.json

Data (never committed; `../shared/data/README.md`):

- CLEF-2020 CheckThat! Task 2 (tweets -> Snopes claims). ``train``: the linear ranker over the candidates' features
  (`matcher.FEATURES`), one logistic regression, the gold claim against the other candidates. ``dev``: design
  numbers, and the positives of the calibration. ``test``: only ever read by ``benchmarks/narratives.py``.
- Ordinary news sentences: sentences of PTC train articles. None of them is taken to repeat a catalogued claim, so
  any match there is a false match. The articles are split in two by id: the even half's sentences are negatives of
  the calibration and set the thresholds, the odd half's report the false-match rate.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spinlens.narratives.catalogue import Claim
from spinlens.narratives.encoders import SentenceEncoder, get_encoder
from spinlens.narratives.matcher import FEATURES, MODEL_DIR, Entry, Fitted, Index, features

CANDIDATES = 20
TARGET_FALSE_MATCHES = 0.005  # of ordinary news sentences matched at the default ("topic") threshold; must be <= 1%
TARGET_STATES_FALSE = 0.001  # ... at the "states" threshold


# --- CLEF-2020 CheckThat! Task 2 --------------------------------------------------------------------------------


@dataclass
class Clef:
    claims: list[Claim]  # ids are the vclaim ids
    queries: dict[str, dict[str, str]]  # split -> tweet id -> cleaned tweet
    qrels: dict[str, dict[str, set[str]]]  # split -> tweet id -> relevant claim ids


def _tsv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    return rows[1:]


_URL = re.compile(r"(?:https?://|pic\.twitter\.com/)\S+")
_TRAILER = re.compile(r"\s*[—–]\s*[^—–]{0,80}\(@\w+\)\s+\w+ \d{1,2}, \d{4}\s*$")


def clean_tweet(text: str) -> str:
    """A tweet without its embed trailer (``— Name (@handle) January 6, 2020``), links, ``@`` and ``#``."""
    text = _TRAILER.sub("", text)
    text = _URL.sub(" ", text)
    text = text.replace("#", " ").replace("@", "")
    return re.sub(r"\s+", " ", text).strip()


def read_clef(root: Path, splits: tuple[str, ...] = ("train", "dev")) -> Clef:
    claims = [Claim(id=r[0], claim=r[1], title=r[2] or None) for r in _tsv(root / "verified_claims.docs.tsv")]
    queries, qrels = {}, {}
    for split in splits:
        queries[split] = {r[0]: clean_tweet(r[1]) for r in _tsv(root / split / "tweets.queries.tsv")}
        rel: dict[str, set[str]] = {}
        for line in (root / split / "tweet-vclaim-pairs.qrels").read_text().split("\n"):
            if line.strip():
                tweet, _, claim, score = line.split()
                if int(score) > 0:
                    rel.setdefault(tweet, set()).add(claim)
        qrels[split] = rel
    return Clef(claims, queries, qrels)


def average_precision(ranked: list[str], relevant: set[str], k: int) -> float:
    hits, total = 0, 0.0
    for i, c in enumerate(ranked[:k], 1):
        if c in relevant:
            hits += 1
            total += hits / i
    return total / len(relevant) if relevant else 0.0


def retrieval_scores(rankings: dict[str, list[str]], qrels: dict[str, set[str]]) -> dict[str, float]:
    """MAP@1, MAP@5 and R@5 over the tweets that have a relevant claim (the official scorer's set)."""
    ids = [q for q in qrels if qrels[q]]
    return {
        "map@1": float(np.mean([average_precision(rankings.get(q, []), qrels[q], 1) for q in ids])),
        "map@5": float(np.mean([average_precision(rankings.get(q, []), qrels[q], 5) for q in ids])),
        "r@5": float(np.mean([len(set(rankings.get(q, [])[:5]) & qrels[q]) / len(qrels[q]) for q in ids])),
        "n": len(ids),
    }


# --- encoding, cached ---------------------------------------------------------------------------------------------


def encode_cached(encoder: SentenceEncoder, texts: list[str], cache: Path | None) -> np.ndarray:
    """Vectors of texts, kept in ``cache`` (a folder) by encoder and the texts' hash: refitting does not re-encode."""
    if cache is None:
        return encoder.encode(texts)
    digest = hashlib.sha256("\n\x00".join(texts).encode()).hexdigest()[:20]
    path = cache / f"{encoder.name}-{digest}.npy"
    if path.is_file():
        return np.load(path)
    vectors = encoder.encode(texts)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def build_index(claims: list[Claim], encoder: SentenceEncoder, cache: Path | None, catalogue: str = "clef") -> Index:
    texts, owners = [], []
    for i, c in enumerate(claims):
        for t in c.indexed_texts():
            texts.append(t)
            owners.append(i)
    vectors = encode_cached(encoder, texts, cache)
    return Index([Entry(catalogue, c) for c in claims], vectors, np.asarray(owners), encoder)


def candidate_features(index: Index, texts: list[str], vectors: np.ndarray, k: int = CANDIDATES):
    """Per query: (candidate claim indices, their feature rows), as `Index.search` builds them."""
    cos, bm = index.cosines(vectors), index.bm25_scores(texts)
    out = []
    for i in range(len(texts)):
        k_ = min(k, len(index.entries))
        cand = np.union1d(np.argpartition(-cos[i], k_ - 1)[:k_], np.argpartition(-bm[i], k_ - 1)[:k_])
        x = features(cos[i, cand], bm[i, cand])
        x[:, 1] = cos[i, cand] - cos[i].max()
        out.append((cand, x))
    return out


def rank(index: Index, cands, weights: np.ndarray) -> list[list[str]]:
    out = []
    for cand, x in cands:
        order = np.argsort(-(x @ weights), kind="stable")
        out.append([index.entries[c].claim.id for c in cand[order]])
    return out


def fit_ranker(index: Index, cands, ids: list[str], qrels: dict[str, set[str]]) -> np.ndarray:
    """Weights over FEATURES: a logistic regression of "is the gold claim" on the training candidates."""
    from sklearn.linear_model import LogisticRegression

    xs, ys = [], []
    for q, (cand, x) in zip(ids, cands, strict=True):
        gold = qrels.get(q, set())
        xs.append(x)
        ys.append(np.array([index.entries[c].claim.id in gold for c in cand], dtype=int))
    model = LogisticRegression(C=10.0, max_iter=2000).fit(np.concatenate(xs), np.concatenate(ys))
    return model.coef_[0].astype(np.float32)


# --- ordinary news sentences ---------------------------------------------------------------------------------------


def news_sentences(ptc_articles: Path, half: int, limit: int, min_chars: int = 12) -> list[str]:
    """Sentence units of PTC train articles with even (half=0) or odd (half=1) ids, first ``limit`` of them."""
    from spinlens.detect.units import sentence_units
    from spinlens.narratives.matcher import _worth_matching

    out: list[str] = []
    for path in sorted(ptc_articles.glob("article*.txt")):
        if int(re.sub(r"\D", "", path.stem)) % 2 != half:
            continue
        text = path.read_text(encoding="utf-8")
        out.extend(text[a:b] for a, b in sentence_units(text) if _worth_matching(text[a:b], min_chars))
        if len(out) >= limit:
            break
    return out[:limit]


def best_fused(index: Index, texts: list[str], vectors: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each query's best fused score over its candidates."""
    return np.array([float((x @ weights).max()) for _, x in candidate_features(index, texts, vectors)])


def fit_calibration(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float]:
    """confidence = sigmoid(a * fused + b), fitted on fused scores of true pairs and of false ones."""
    from sklearn.linear_model import LogisticRegression

    x = np.concatenate([pos, neg])[:, None]
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    model = LogisticRegression(C=100.0, max_iter=1000).fit(x, y)
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def threshold_for(neg_conf: np.ndarray, rate: float) -> float:
    """The lowest confidence threshold at which at most ``rate`` of these negatives reach it."""
    ordered = np.sort(neg_conf)[::-1]
    allowed = int(np.floor(rate * len(ordered)))
    return float(np.nextafter(ordered[allowed], 1.0)) if allowed < len(ordered) else 0.0


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/spinlens-narratives-cache"))
    parser.add_argument("--news", type=int, default=2000, help="ordinary news sentences per half")
    parser.add_argument("--out", type=Path, default=MODEL_DIR / "matcher.json")
    args = parser.parse_args(argv)

    encoder = get_encoder("minilm")
    clef = read_clef(args.data / "clef2020-checkthat-task2")
    index = build_index(clef.claims, encoder, args.cache)
    cands, ids = {}, {}
    for split in ("train", "dev"):
        ids[split] = list(clef.queries[split])
        texts = [clef.queries[split][q] for q in ids[split]]
        cands[split] = candidate_features(index, texts, encode_cached(encoder, texts, args.cache))
    zero = np.asarray(Fitted().weights, dtype=np.float32)
    weights = fit_ranker(index, cands["train"], ids["train"], clef.qrels["train"])
    report: dict = {"features": list(FEATURES)}
    for name, w in (("zero-shot", zero), ("fitted", weights)):
        for split in ("train", "dev"):
            ranked = dict(zip(ids[split], rank(index, cands[split], w), strict=True))
            report[f"{name} {split}"] = retrieval_scores(ranked, clef.qrels[split])
            print(name, split, report[f"{name} {split}"], flush=True)

    # calibration: dev's gold pairs (positives) and its other top candidates, and news sentences' best candidates
    pos, neg = [], []
    for q, (cand, x) in zip(ids["dev"], cands["dev"], strict=True):
        fused = x @ weights
        gold = clef.qrels["dev"].get(q, set())
        for c, s in zip(cand, fused, strict=True):
            (pos if index.entries[c].claim.id in gold else neg).append(float(s))
    print(len(pos), len(neg))


if __name__ == "__main__":
    main()
