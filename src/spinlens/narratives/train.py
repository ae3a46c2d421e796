"""Fitting the matcher (`matcher.Fitted`): ranker weights, calibration and thresholds; apart from inference.

    python -m spinlens.narratives.train --data ../shared/data      # writes narratives/model/matcher-minilm.json

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
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from spinlens.narratives.catalogue import Claim
from spinlens.narratives.encoders import SentenceEncoder, get_encoder
from spinlens.narratives.matcher import CONFIDENCE, FEATURES, MODEL_DIR, Entry, Fitted, Index, Matcher, MatchParams

CANDIDATES = 20
TARGET_FALSE_MATCHES = 0.008  # of ordinary news sentences matched at the default ("topic") threshold; must be <= 1%
TARGET_STATES_FALSE = 0.002  # ... at the "states" threshold


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


def read_clef(root: Path, splits: tuple[str, ...] = ("train", "dev"), titles: bool = True) -> Clef:
    """The claims (with the fact-check's title as a second matched text if ``titles``), tweets and qrels."""
    claims = [
        Claim(id=r[0], claim=r[1], title=(r[2] or None) if titles else None)
        for r in _tsv(root / "verified_claims.docs.tsv")
    ]
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


def encode_cached(encoder: SentenceEncoder, texts: list[str], cache: Path | None, chunk: int = 2000) -> np.ndarray:
    """Vectors of texts, each kept in ``cache`` (a folder) by encoder and text: refitting does not re-encode."""
    if cache is None:
        return encoder.encode(texts)
    cache.mkdir(parents=True, exist_ok=True)
    keys_path, vec_path = cache / f"{encoder.name}.keys.json", cache / f"{encoder.name}.npy"
    keys: list[str] = json.loads(keys_path.read_text()) if keys_path.is_file() else []
    stored = np.load(vec_path) if vec_path.is_file() else None
    where = {k: i for i, k in enumerate(keys)}
    digest = [hashlib.sha256(t.encode()).hexdigest()[:24] for t in texts]
    missing = list(dict.fromkeys(d for d in digest if d not in where))
    text_of = dict(zip(digest, texts, strict=True))
    for i in range(0, len(missing), chunk):  # saved as it goes: an interrupted run keeps what it encoded
        part = missing[i : i + chunk]
        fresh = encoder.encode([text_of[d] for d in part]).astype(np.float32)
        stored = fresh if stored is None else np.concatenate([stored, fresh])
        for d in part:
            where[d] = len(keys)
            keys.append(d)
        np.save(vec_path, stored)
        keys_path.write_text(json.dumps(keys))
        print(f"encoded {len(keys)} texts in the cache", flush=True)
    if stored is None:
        return np.zeros((0, 384), np.float32)
    return stored[[where[d] for d in digest]] if digest else np.zeros((0, stored.shape[1]), np.float32)


def build_index(
    claims: list[Claim], encoder: SentenceEncoder, cache: Path | None, catalogue: str = "clef", titles: bool = True
) -> Index:
    """An index of claims; ``titles=False``: titles are read by BM25 only, not encoded (saves half the encoding)."""
    texts, owners = [], []
    for i, c in enumerate(claims):
        for t in c.indexed_texts() if titles else c.indexed_texts()[:1]:
            texts.append(t)
            owners.append(i)
    vectors = encode_cached(encoder, texts, cache)
    return Index([Entry(catalogue, c) for c in claims], vectors, np.asarray(owners), encoder)


def rank(index: Index, cands, weights: np.ndarray) -> list[list[str]]:
    """Claim ids of each query's candidates, best fused score first."""
    out = []
    for cand, x in cands:
        order = np.argsort(-(x @ weights), kind="stable")
        out.append([index.entries[c].claim.id for c in cand[order]])
    return out


def fit_adapter(
    queries: np.ndarray, targets: np.ndarray, claims: np.ndarray, reg: float, steps: int = 300, tau: float = 0.05
) -> np.ndarray:
    """A linear map of query vectors, from the identity: for each query, a softmax (temperature ``tau``) over its
    gold claim and the 63 claims nearest to it by plain cosine (hard negatives), towards the gold claim, plus
    ``reg`` times the squared distance from the identity."""
    import torch

    torch.manual_seed(0)
    near = np.argsort(-(queries @ claims.T), axis=1)[:, :64]
    near = np.where(near == targets[:, None], near[:, -1:], near)  # the gold claim goes first, once
    lists = np.concatenate([targets[:, None], near[:, :63]], axis=1)
    q, c = torch.from_numpy(queries), torch.from_numpy(claims[lists])  # (n, dim), (n, 64, dim)
    w = torch.nn.Parameter(torch.eye(q.shape[1]))
    opt = torch.optim.Adam([w], lr=1e-3)
    eye, gold = torch.eye(q.shape[1]), torch.zeros(len(q), dtype=torch.long)
    for _ in range(steps):
        opt.zero_grad()
        z = torch.nn.functional.normalize(q @ w, dim=1)
        logits = torch.einsum("nd,nkd->nk", z, c) / tau
        loss = torch.nn.functional.cross_entropy(logits, gold) + reg * ((w - eye) ** 2).sum()
        loss.backward()
        opt.step()
    return w.detach().numpy().astype(np.float32)


def fit_ranker(index: Index, cands, ids: list[str], qrels: dict[str, set[str]]) -> np.ndarray:
    """Weights over FEATURES: a logistic regression of "is the gold claim" on the training candidates."""
    from sklearn.linear_model import LogisticRegression

    xs, ys = [], []
    for q, (cand, x) in zip(ids, cands, strict=True):
        gold = qrels.get(q, set())
        xs.append(x)
        ys.append(np.array([index.entries[c].claim.id in gold for c in cand], dtype=int))
    model = LogisticRegression(C=10.0, max_iter=5000).fit(np.concatenate(xs), np.concatenate(ys))
    return model.coef_[0].astype(np.float32)


# --- ordinary news sentences ---------------------------------------------------------------------------------------


def news_articles(ptc_articles: Path, half: int, sentences: int) -> list[str]:
    """PTC train articles with even (half=0) or odd (half=1) ids, in id order, until they hold ``sentences``."""
    from spinlens.narratives.matcher import Matcher

    out, n = [], 0
    for path in sorted(ptc_articles.glob("article*.txt")):
        if n >= sentences:
            break
        if int(re.sub(r"\D", "", path.stem)) % 2 == half:
            out.append(path.read_text(encoding="utf-8"))
            n += len(Matcher.units_of(out[-1]))
    return out


def news_sentences(ptc_articles: Path, half: int, limit: int) -> list[str]:
    """The matched sentence units of those articles (`Matcher.units`), first ``limit`` of them."""
    from spinlens.narratives.matcher import Matcher

    out = []
    for text in news_articles(ptc_articles, half, limit):
        out.extend(text[a:b] for a, b in Matcher.units_of(text))
    return out[:limit]


def unit_confidences(matcher: Matcher, articles: list[str], encoder: SentenceEncoder, cache: Path | None) -> np.ndarray:
    """For every matched unit of the articles, the highest confidence of any match that covers it (sentence or pair)
    as the matcher reports them with no threshold: a unit is falsely matched at threshold t when this is >= t."""
    loose = Matcher(matcher.index, matcher.params, replace(matcher.fitted, topic=0.0))
    out = []
    for text in articles:
        units = matcher.units(text)
        vectors = encode_cached(encoder, [text[a:b] for a, b in units], cache)
        best = np.zeros(len(units))
        for m in loose.match(text, vectors):
            for i, (a, b) in enumerate(units):
                if m.start <= a and b <= m.end:
                    best[i] = max(best[i], m.confidence)
        out.append(best)
    return np.concatenate(out) if out else np.zeros(0)


def fit_calibration(pos: np.ndarray, neg: np.ndarray) -> tuple[float, ...]:
    """Weights over `CONFIDENCE` and an intercept: a logistic regression of true pairs' feature rows against false
    ones'."""
    from sklearn.linear_model import LogisticRegression

    cols = [FEATURES.index(f) for f in CONFIDENCE]
    x = np.concatenate([pos, neg])[:, cols]
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    model = LogisticRegression(C=10.0, max_iter=2000).fit(x, y)
    return (*map(float, model.coef_[0]), float(model.intercept_[0]))


def threshold_for(confidences: np.ndarray, rate: float) -> float:
    """The lowest threshold that at most ``rate`` of these (false) matches reach."""
    ordered = np.sort(confidences)[::-1]
    allowed = int(np.floor(rate * len(ordered)))
    return float(np.nextafter(ordered[allowed], 1.0)) if allowed < len(ordered) else 0.0


@dataclass
class Setup:
    """Everything a fit and an evaluation read: the CLEF index, the tweets' candidates, the news articles."""

    encoder: SentenceEncoder
    clef: Clef
    index: Index
    vectors: dict[str, np.ndarray]  # split -> tweet vectors (not adapted)
    cache: Path | None


def setup(data: Path, cache: Path | None, splits: tuple[str, ...] = ("train", "dev"), encoder: str = "minilm") -> Setup:
    encoder = get_encoder(encoder)
    clef = read_clef(data / "clef2020-checkthat-task2", splits, titles=True)
    index = build_index(clef.claims, encoder, cache)
    vectors = {s: encode_cached(encoder, list(clef.queries[s].values()), cache) for s in splits}
    return Setup(encoder, clef, index, vectors, cache)


def clef_scores(su: Setup, fitted: Fitted, split: str) -> dict[str, float]:
    texts = list(su.clef.queries[split].values())
    cands = su.index.candidates(texts, fitted.adapt(su.vectors[split]), CANDIDATES)
    ranked = dict(zip(su.clef.queries[split], rank(su.index, cands, np.asarray(fitted.weights)), strict=True))
    return retrieval_scores(ranked, su.clef.qrels[split])


def fit(su: Setup, news: list[str], euvs: Index | None, reg: float, log=print) -> Fitted:  # type: ignore[no-untyped-def]
    """Adapter and ranker on train; calibration on dev and the news sentences; thresholds on the news sentences."""
    train_ids = list(su.clef.queries["train"])
    first = su.index._layout[0]
    claim_row = {e.claim.id: i for i, e in enumerate(su.index.entries)}
    targets = np.array([claim_row[sorted(su.clef.qrels["train"][q])[0]] for q in train_ids])
    adapter = fit_adapter(su.vectors["train"], targets, su.index.vectors[first], reg) if reg >= 0 else None
    fitted = Fitted(adapter=adapter)
    texts = list(su.clef.queries["train"].values())
    cands = su.index.candidates(texts, fitted.adapt(su.vectors["train"]), CANDIDATES)
    weights = fit_ranker(su.index, cands, train_ids, su.clef.qrels["train"])
    fitted = replace(fitted, weights=tuple(float(w) for w in weights))
    log(f"adapter reg {reg}: dev {clef_scores(su, fitted, 'dev')}")

    # calibration: the top candidates (as many as are reported) of dev tweets, positive where gold, and of the news
    # sentences, all negative
    per_unit = MatchParams().per_unit
    dev_ids, dev_texts = list(su.clef.queries["dev"]), list(su.clef.queries["dev"].values())
    pos, neg = [], []
    for q, (cand, _, rows) in zip(
        dev_ids, su.index.search(dev_texts, su.vectors["dev"], fitted, CANDIDATES), strict=True
    ):
        for c, row in zip(cand[:per_unit], rows[:per_unit], strict=True):
            (pos if su.index.entries[c].claim.id in su.clef.qrels["dev"].get(q, ()) else neg).append(row)
    news_vectors = encode_cached(su.encoder, news, su.cache)
    for index in [su.index] + ([euvs] if euvs is not None else []):
        for _, _, rows in index.search(news, news_vectors, fitted, CANDIDATES):
            neg.extend(rows[:per_unit])
    fitted = replace(fitted, calibration=fit_calibration(np.array(pos), np.array(neg)))
    log(f"calibration over {CONFIDENCE}: {fitted.calibration} ({len(pos)} true pairs, {len(neg)} false)")
    return fitted


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/spinlens-narratives-cache"))
    parser.add_argument("--news", type=int, default=2000, help="ordinary news sentences (even PTC articles)")
    parser.add_argument("--reg", type=float, nargs="+", default=[-1.0], help="adapter regularisation; -1: none")
    parser.add_argument("--out", type=Path, default=MODEL_DIR)
    parser.add_argument("--encoder", default="minilm", help="a name in narratives.encoders.ENCODERS")
    parser.add_argument(
        "--gate-only", action="store_true", help="fit only the gate (narratives.gate) for the default tier"
    )
    parser.add_argument("--run-dir", type=Path, default=Path("runs/gate"), help="the gate's checkpoints (resumed)")
    args = parser.parse_args(argv)

    su = setup(args.data, args.cache, encoder=args.encoder)
    ptc = args.data / "ptc-semeval2020-task11/datasets/train-articles"
    if args.gate_only:
        from spinlens.narratives.catalogue import read_catalogue

        claims = read_catalogue(args.data / "euvsdisinfo-cknabs/data/posts.csv").claims
        from spinlens.narratives.train_gate import fit_gate

        fit_gate(su, build_index(claims, su.encoder, su.cache, "euvsdisinfo"), ptc, args.out, args.run_dir)
        return
    print("zero-shot dev", clef_scores(su, Fitted(), "dev"), flush=True)
    news = news_sentences(ptc, 0, args.news)
    from spinlens.narratives.catalogue import read_catalogue

    euvs = build_index(
        read_catalogue(args.data / "euvsdisinfo-cknabs/data/posts.csv").claims, su.encoder, su.cache, "euvsdisinfo"
    )
    best, best_map = None, -1.0
    for reg in args.reg:
        candidate = fit(su, news, euvs, reg)
        score = clef_scores(su, candidate, "dev")["map@5"]
        if score > best_map:
            best, best_map, best_reg = candidate, score, reg
    assert best is not None
    articles = news_articles(ptc, 0, args.news)
    confs = np.concatenate(
        [unit_confidences(Matcher(index, fitted=best), articles, su.encoder, su.cache) for index in (su.index, euvs)]
    )
    best = replace(
        best, topic=threshold_for(confs, TARGET_FALSE_MATCHES), states=threshold_for(confs, TARGET_STATES_FALSE)
    )
    dev = clef_scores(su, best, "dev")
    print("chosen", best_reg, dev, best.topic, best.states, flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    card = {
        "encoder": su.encoder.name,
        "features": list(FEATURES),
        "confidence_features": list(CONFIDENCE),
        "weights": list(best.weights),
        "calibration": list(best.calibration),
        "thresholds": {"topic": best.topic, "states": best.states},
        "adapter": f"adapter-{su.encoder.name}.npy" if best.adapter is not None else None,
        "adapter_reg": best_reg,
        "fitted_on": {
            "ranker and adapter": "CLEF-2020 CheckThat! T2 train (800 tweets)",
            "calibration": "top-3 candidates of CLEF-2020 T2 dev tweets (gold: true) and of the even PTC sentences against both catalogues (false)",
            "thresholds": f"{len(confs)} sentence units of even-numbered PTC train articles against the CLEF and "
            f"EUvsDisinfo catalogues: {TARGET_FALSE_MATCHES:.1%} (topic) and {TARGET_STATES_FALSE:.1%} (states)",
        },
        "dev": dev,
    }
    if best.adapter is not None:
        np.save(args.out / f"adapter-{su.encoder.name}.npy", best.adapter.astype(np.float16))
    (args.out / f"matcher-{su.encoder.name}.json").write_text(json.dumps(card, indent=1) + "\n")
    print(f"wrote {args.out / f'matcher-{su.encoder.name}.json'}")


if __name__ == "__main__":
    main()
