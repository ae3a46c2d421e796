"""Stage 2: the technique classifier, thresholds, calibration and article-level models, on stored tagger outputs.

Cross-fitted: the numbers reported for fold f come from a classifier trained on the other folds' articles and
from thresholds and calibration tuned on the other folds' held-out predictions, never on fold f itself.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np

from spinlens.detect.corpus import Example
from spinlens.detect.decide import (
    Params,
    SpanDecision,
    _logit,
    _sigmoid,
    article_features,
    candidate_spans,
    decide_article,
    label_spans,
)
from spinlens.detect.features import ArticleView, span_features
from spinlens.detect.model import TokenOutputs
from spinlens.detect.techniques import TechniqueClassifier, fit_temperature
from spinlens.evaluate.scorers import score_article, score_flc, score_si, score_tc
from spinlens.formats.ptc import Label

# (extent threshold, acceptance threshold) pairs tried for span decoding
SPAN_THRESHOLDS = tuple((low, high) for low in (0.3, 0.35, 0.4) for high in (0.45, 0.5, 0.55, 0.6))
SECOND_TECHNIQUE = (0.25, 0.35, 0.5, 1.01)
# Regularisation of the technique classifier, chosen by 5-fold CV: C = 0.001 0.002 0.003 0.005 0.01 0.02 gave
# TC micro-F1 0.633 0.635 0.631 0.628 0.619 0.609.
TC_C = 0.002


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


def _decisions(
    pred: FoldPredictions, pair: tuple[float, float], techniques: list[str], params: Params
) -> dict[str, list[SpanDecision]]:
    """Span decisions per article of a fold, for one pair of span thresholds."""
    by_article: dict[str, list] = {aid: [] for aid in pred.article_ids}
    for aid, a, b, inside, p in pred.candidates[pair]:
        by_article[aid].append(((a, b, inside), p))
    return {
        aid: label_spans([c for c, _ in items], np.array([p for _, p in items]), techniques, params) if items else []
        for aid, items in by_article.items()
    }


def _flat(decisions: dict[str, list[SpanDecision]], with_technique: bool = True) -> list[Label]:
    return [
        Label(aid, d.start, d.end, d.technique if with_technique else None) for aid, ds in decisions.items() for d in ds
    ]


def tune(preds: list[FoldPredictions], techniques: list[str]) -> Params:
    """Thresholds, calibration and article-level models from held-out predictions."""
    temperature = fit_temperature(
        np.concatenate([p.tc_logits for p in preds]), np.concatenate([p.tc_labels for p in preds])
    )
    gold = [g for p in preds for g in p.gold]
    best: tuple[float, Params] | None = None
    for pair in SPAN_THRESHOLDS:
        si_pred = [Label(aid, a, b) for p in preds for aid, a, b, _, _ in p.candidates[pair]]
        si = score_si(gold, si_pred).f1
        for second in SECOND_TECHNIQUE:
            params = Params(span_threshold=pair[0], span_accept=pair[1], second_technique=second)
            flc = score_flc(gold, [x for p in preds for x in _flat(_decisions(p, pair, techniques, params))]).f1
            if best is None or si + flc > best[0]:
                best = (si + flc, params)
    assert best is not None
    params = best[1]
    pair = (params.span_threshold, params.span_accept)
    # calibration: Platt scaling of the raw score's log-odds against "overlaps a gold span of this technique"
    raws, hits = [], []
    for p in preds:
        gold_by = _gold_by_technique(p.gold)
        for aid, ds in _decisions(p, pair, techniques, params).items():
            for d in ds:
                raws.append(_logit(d.inside * d.technique_probs[techniques.index(d.technique)]))
                hits.append(any(d.start < ge and d.end > gs for gs, ge in gold_by.get((aid, d.technique), [])))
    params = replace(params, calibration=_platt(np.array(raws), np.array(hits, dtype=float)))
    # article level: per technique, logistic regression on `article_features`, and the threshold that maximises F1
    feats: dict[str, list[np.ndarray]] = {t: [] for t in techniques}
    ys: dict[str, list[int]] = {t: [] for t in techniques}
    for p in preds:
        gold_sets = {(g.article_id, g.technique) for g in p.gold}
        for aid, ds in _decisions(p, pair, techniques, params).items():
            for k, t in enumerate(techniques):
                feats[t].append(article_features(ds, t, k))
                ys[t].append(int((aid, t) in gold_sets))
    weights, thresholds = {}, {}
    grid = np.linspace(0.05, 0.95, 37)
    for t in techniques:
        x, y = np.stack(feats[t]), np.array(ys[t])
        weights[t] = _logistic(x, y)
        probs = _sigmoid(x @ np.array(weights[t][:-1]) + weights[t][-1])
        thresholds[t] = float(grid[int(np.argmax([_f1(y, probs >= g) for g in grid]))])
    return replace(params, article_weights=weights, article_thresholds=thresholds, temperature=temperature)


def _gold_by_technique(gold: list[Label]) -> dict[tuple[str, str | None], list[tuple[int, int]]]:
    out: dict = {}
    for g in gold:
        out.setdefault((g.article_id, g.technique), []).append((g.start, g.end))
    return out


def evaluate_fold(pred: FoldPredictions, params: Params, techniques: list[str]) -> dict[str, float]:
    z = pred.tc_logits / params.temperature
    probs = np.exp(z - z.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    tc = score_tc(pred.tc_rows, assign_techniques(probs, pred.tc_rows, techniques))
    pair = (params.span_threshold, params.span_accept)
    decisions = _decisions(pred, pair, techniques, params)
    si = score_si(pred.gold, _flat(decisions, with_technique=False))
    flc = score_flc(pred.gold, _flat(decisions))
    art_pred = []
    for aid, ds in decisions.items():
        _, present, _ = decide_article(ds, techniques, params)
        art_pred += [Label(aid, 0, 1, t) for t in techniques if present[t]]
    art = score_article(pred.gold, art_pred)
    ece = _calibration_error([(aid, d) for aid, ds in decisions.items() for d in ds], pred.gold)
    return {"si": si.f1, "tc": tc.f1, "flc": flc.f1, "article": art.f1, "tc_macro": tc.macro_f1 or 0.0, "ece": ece}


def _calibration_error(decisions: list[tuple[str, SpanDecision]], gold: list[Label], bins: int = 10) -> float:
    """Expected calibration error of span scores against 'overlaps a gold span of this technique'."""
    if not decisions:
        return 0.0
    gold_by = _gold_by_technique(gold)
    scores = np.array([d.score for _, d in decisions])
    hits = np.array(
        [any(d.start < ge and d.end > gs for gs, ge in gold_by.get((aid, d.technique), [])) for aid, d in decisions],
        float,
    )
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
