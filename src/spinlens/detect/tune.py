"""Stage 2: the technique classifier, thresholds, calibration and article-level models, on stored tagger outputs.

Cross-fitted: the numbers reported for fold f come from a classifier trained on the other folds' articles and
from thresholds and calibration tuned on the other folds' held-out predictions, never on fold f itself.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np

from spinlens.detect.corpus import Example
from spinlens.detect.decide import Params, _logit, _sigmoid, article_features, candidate_spans
from spinlens.detect.features import ArticleView, span_features
from spinlens.detect.model import TokenOutputs
from spinlens.detect.techniques import TechniqueClassifier, fit_temperature
from spinlens.evaluate.scorers import score_article, score_flc, score_si, score_tc
from spinlens.formats.ptc import Label

# (extent threshold, acceptance threshold) pairs tried for span decoding
SPAN_THRESHOLDS = tuple((low, high) for low in (0.3, 0.35, 0.4) for high in (0.45, 0.5, 0.55, 0.6))
SECOND_TECHNIQUE = (0.25, 0.35, 0.5, 1.01)
TC_C = 0.01


def gold_span_features(
    examples: list[Example], outputs: dict[str, TokenOutputs]
) -> tuple[np.ndarray, np.ndarray, list[Label]]:
    from spinlens.detect.train import TECHNIQUES

    index = {t: i for i, t in enumerate(TECHNIQUES)}
    feats, ys, rows = [], [], []
    for ex in examples:
        if not ex.labels:
            continue
        out = outputs[ex.document.id]
        view = ArticleView(ex.document.text, ex.encoded.offsets, out.vectors, out.technique_probs)
        for lab in ex.labels:
            feats.append(span_features(view, lab.start, lab.end))
            ys.append(index[lab.technique])
            rows.append(lab)
    return np.stack(feats), np.array(ys), rows


def assign_techniques(probs: np.ndarray, rows: list[Label], techniques: list[str]) -> list[Label]:
    """One technique per template line; a span listed k times gets its k most likely techniques."""
    seen: Counter = Counter()
    out = []
    for p, r in zip(probs, rows, strict=True):
        key = (r.article_id, r.start, r.end)
        rank = min(seen[key], len(techniques) - 1)
        seen[key] += 1
        out.append(Label(r.article_id, r.start, r.end, techniques[int(np.argsort(-p)[rank])]))
    return out


@dataclass
class FoldPredictions:
    """Held-out predictions of one fold, kept for cross-fitted tuning."""

    fold: int
    tc_logits: np.ndarray
    tc_labels: np.ndarray
    tc_rows: list[Label]
    gold: list[Label]
    article_ids: list[str]
    # per (extent, acceptance) threshold pair: (article id, start, end, inside score, technique probabilities)
    candidates: dict[tuple[float, float], list[tuple[str, int, int, float, np.ndarray]]] = field(default_factory=dict)


def fold_predictions(
    fold: int, examples: list[Example], folds: dict[str, int], outputs: dict[str, TokenOutputs], techniques: list[str]
) -> FoldPredictions:
    train = [ex for ex in examples if folds[ex.document.id] != fold]
    test = [ex for ex in examples if folds[ex.document.id] == fold]
    x, y, _ = gold_span_features(train, outputs)
    clf = TechniqueClassifier.fit(x, y, len(techniques), c=TC_C)
    xt, yt, rows = gold_span_features(test, outputs)
    pred = FoldPredictions(
        fold, clf.logits(xt), yt, rows, [lab for ex in test for lab in ex.labels], [ex.document.id for ex in test]
    )
    for t in SPAN_THRESHOLDS:
        params = Params(span_threshold=t[0], span_accept=t[1])
        cands = []
        for ex in test:
            out = outputs[ex.document.id]
            spans = candidate_spans(ex.document.text, ex.encoded.offsets, out, params)
            if not spans:
                continue
            view = ArticleView(ex.document.text, ex.encoded.offsets, out.vectors, out.technique_probs)
            probs = clf.predict_proba(np.stack([span_features(view, a, b) for a, b, _ in spans]))
            cands += [(ex.document.id, a, b, s, p) for (a, b, s), p in zip(spans, probs, strict=True)]
        pred.candidates[t] = cands
    return pred


def _decisions(cands, techniques, second: float, calibration=(1.0, 0.0)):
    a, b = calibration
    out = []
    for aid, start, end, inside, p in cands:
        order = np.argsort(-p)
        picks = [order[0]] + ([order[1]] if p[order[1]] >= second else [])
        for k in picks:
            raw = inside * p[k]
            out.append((aid, start, end, techniques[k], float(_sigmoid(a * _logit(raw) + b)), raw))
    return out


def tune(preds: list[FoldPredictions], techniques: list[str]) -> Params:
    """Thresholds, calibration and article-level models from held-out predictions."""
    temperature = fit_temperature(
        np.concatenate([p.tc_logits for p in preds]), np.concatenate([p.tc_labels for p in preds])
    )
    best = None
    for t in SPAN_THRESHOLDS:
        gold = [g for p in preds for g in p.gold]
        si_pred = [Label(aid, a, b) for p in preds for aid, a, b, _, _ in p.candidates[t]]
        si = score_si(gold, si_pred).f1
        for second in SECOND_TECHNIQUE:
            dec = [d for p in preds for d in _decisions(p.candidates[t], techniques, second)]
            flc = score_flc(gold, [Label(aid, a, b, tech) for aid, a, b, tech, _, _ in dec]).f1
            if best is None or si + flc > best[0]:
                best = (si + flc, t, second)
    _, threshold, second = best
    # calibration: Platt scaling of the raw score's log-odds against "overlaps a gold span of this technique"
    raws, hits = [], []
    for p in preds:
        gold_by = {}
        for g in p.gold:
            gold_by.setdefault((g.article_id, g.technique), []).append((g.start, g.end))
        for aid, a, b, tech, _, raw in _decisions(p.candidates[threshold], techniques, second):
            raws.append(_logit(raw))
            hits.append(any(a < ge and b > gs for gs, ge in gold_by.get((aid, tech), [])))
    calibration = _platt(np.array(raws), np.array(hits, dtype=float))
    params = Params(
        span_threshold=threshold[0], span_accept=threshold[1], second_technique=second, calibration=calibration
    )
    # article level: per technique, logistic regression on (max, noisy-or, log count) of calibrated span scores
    feats: dict[str, list[np.ndarray]] = {t: [] for t in techniques}
    ys: dict[str, list[int]] = {t: [] for t in techniques}
    for p in preds:
        dec = _decisions(p.candidates[threshold], techniques, second, calibration)
        gold_sets = {(g.article_id, g.technique) for g in p.gold}
        for aid in p.article_ids:
            mine = [_Dec(tech, score) for a2, _, _, tech, score, _ in dec if a2 == aid]
            for t in techniques:
                feats[t].append(article_features(mine, t))
                ys[t].append(int((aid, t) in gold_sets))
    weights, thresholds = {}, {}
    for t in techniques:
        x, y = np.stack(feats[t]), np.array(ys[t])
        w = _logistic(x, y)
        weights[t] = w
        probs = _sigmoid(x @ np.array(w[:3]) + w[3])
        grid = np.linspace(0.05, 0.95, 37)
        f1s = [_f1(y, probs >= g) for g in grid]
        thresholds[t] = float(grid[int(np.argmax(f1s))])
    # overall score: logistic regression on the article's highest technique probability, against "has any label"
    top, any_label = [], []
    n_articles = len(feats[techniques[0]])
    for i in range(n_articles):
        probs = [float(_sigmoid(feats[t][i] @ np.array(weights[t][:3]) + weights[t][3])) for t in techniques]
        top.append([max(probs)])
        any_label.append(int(any(ys[t][i] for t in techniques)))
    overall = _logistic(np.array(top), np.array(any_label))
    return replace(
        params, article_weights=weights, article_thresholds=thresholds, overall_weights=overall, temperature=temperature
    )


@dataclass
class _Dec:
    technique: str
    score: float


def evaluate_fold(pred: FoldPredictions, params: Params, techniques: list[str]) -> dict[str, float]:
    z = pred.tc_logits / params.temperature
    probs = np.exp(z - z.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    tc = score_tc(pred.tc_rows, assign_techniques(probs, pred.tc_rows, techniques))
    cands = pred.candidates[params.span_threshold, params.span_accept]
    si = score_si(pred.gold, [Label(aid, a, b) for aid, a, b, _, _ in cands])
    dec = _decisions(cands, techniques, params.second_technique, params.calibration)
    flc = score_flc(pred.gold, [Label(aid, a, b, tech) for aid, a, b, tech, _, _ in dec])
    art_pred = []
    for aid in pred.article_ids:
        mine = [_Dec(tech, score) for a2, _, _, tech, score, _ in dec if a2 == aid]
        for t in techniques:
            w = params.article_weights[t]
            prob = float(_sigmoid(article_features(mine, t) @ np.array(w[:3]) + w[3]))
            if prob >= params.article_thresholds[t]:
                art_pred.append(Label(aid, 0, 1, t))
    art = score_article(pred.gold, art_pred)
    hits = _calibration_error(dec, pred.gold)
    return {"si": si.f1, "tc": tc.f1, "flc": flc.f1, "article": art.f1, "tc_macro": tc.macro_f1 or 0.0, "ece": hits}


def _calibration_error(dec, gold: list[Label], bins: int = 10) -> float:
    """Expected calibration error of span scores against 'overlaps a gold span of this technique'."""
    if not dec:
        return 0.0
    gold_by: dict = {}
    for g in gold:
        gold_by.setdefault((g.article_id, g.technique), []).append((g.start, g.end))
    scores = np.array([d[4] for d in dec])
    hits = np.array([any(d[1] < ge and d[2] > gs for gs, ge in gold_by.get((d[0], d[3]), [])) for d in dec], float)
    ece = 0.0
    for k in range(bins):
        m = (scores >= k / bins) & (scores < (k + 1) / bins)
        if m.any():
            ece += m.mean() * abs(scores[m].mean() - hits[m].mean())
    return float(ece)


def _f1(y: np.ndarray, pred: np.ndarray) -> float:
    tp = float((y & pred).sum()) if y.dtype == bool else float((y.astype(bool) & pred).sum())
    p, r = tp / max(1, pred.sum()), tp / max(1, y.sum())
    return 2 * p * r / (p + r) if p + r else 0.0


def _platt(z: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    w = _logistic(z[:, None], y.astype(int))
    return float(w[0]), float(w[1])


def _logistic(x: np.ndarray, y: np.ndarray) -> list[float]:
    """Weights then bias of a lightly regularised logistic regression (constant fallback for one class)."""
    if len(set(y.tolist())) < 2:
        prior = float(np.clip(y.mean() if len(y) else 0.0, 1e-3, 1 - 1e-3))
        return [0.0] * x.shape[1] + [float(np.log(prior / (1 - prior)))]
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=1.0, max_iter=1000).fit(x, y)
    return [float(v) for v in clf.coef_[0]] + [float(clf.intercept_[0])]
