"""Decisions on top of the per-wordpiece outputs: which spans, which techniques, which article-level labels.

Every number used here is in `Params`, fitted on held-out folds (see `spinlens.detect.tune`) and saved with the
model, so that a newcomer can read exactly what the detector does with its probabilities.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from spinlens.detect.features import ArticleView, span_features
from spinlens.detect.model import TokenOutputs
from spinlens.detect.spans import decode_spans
from spinlens.detect.techniques import TechniqueClassifier


@dataclass
class Params:
    span_threshold: float = 0.35  # inside-probability above which a wordpiece is part of a span
    span_accept: float = 0.5  # a span is reported only if one of its wordpieces reaches this
    # Articles in styles unlike PTC's get lower inside-probabilities throughout, and a fixed threshold turns the
    # detector silent on them. Each article therefore also gets spans at `relative_threshold` times its own
    # highest inside-probability, never below `span_floor`.
    relative_threshold: float = 0.8
    span_floor: float = 0.2
    second_technique: float = 0.35  # a span also gets its runner-up technique above this probability
    calibration: tuple[float, float] = (1.0, 0.0)  # Platt scaling of log-odds of a span's raw score
    # article level, per technique: weights of `article_features`, then bias; and a decision threshold
    article_weights: dict[str, list[float]] = field(default_factory=dict)
    article_thresholds: dict[str, float] = field(default_factory=dict)
    temperature: float = 1.0  # softmax temperature of technique probabilities for given spans (calibration)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Params:
        data = dict(data)
        data["calibration"] = tuple(data.get("calibration", (1.0, 0.0)))
        return cls(**data)


@dataclass
class SpanDecision:
    start: int
    end: int
    technique: str
    score: float  # calibrated probability that this span uses this technique
    technique_probs: np.ndarray  # the classifier's distribution over all techniques for this span
    inside: float  # the tagger's mean inside-probability over the span


def candidate_spans(text: str, offsets: np.ndarray, out: TokenOutputs, params: Params) -> list[tuple[int, int, float]]:
    inside_max = float((1.0 - out.tag_probs[:, 0]).max()) if len(out.tag_probs) else 0.0
    relative = max(params.span_floor, params.relative_threshold * inside_max)
    threshold = min(params.span_threshold, relative)
    accept = max(threshold, min(params.span_accept, relative))
    return decode_spans(offsets, out.tag_probs, threshold, text, accept)


def _logit(p: np.ndarray | float) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _sigmoid(z: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(z)))


def decide_spans(
    text: str,
    offsets: np.ndarray,
    out: TokenOutputs,
    classifier: TechniqueClassifier,
    techniques: list[str],
    params: Params,
) -> list[SpanDecision]:
    spans = candidate_spans(text, offsets, out, params)
    if not spans:
        return []
    view = ArticleView(text, offsets, out.vectors, out.technique_probs)
    probs = classifier.predict_proba(np.stack([span_features(view, a, b) for a, b, _ in spans]))
    return label_spans(spans, probs, techniques, params)


def label_spans(
    spans: list[tuple[int, int, float]], probs: np.ndarray, techniques: list[str], params: Params
) -> list[SpanDecision]:
    """Each span gets its most likely technique, and its runner-up too when that is likely enough."""
    a, b = params.calibration
    decisions = []
    for (start, end, inside), p in zip(spans, probs, strict=True):
        order = np.argsort(-p)
        picks = [order[0]] + ([order[1]] if p[order[1]] >= params.second_technique else [])
        for k in picks:
            score = float(_sigmoid(a * _logit(inside * p[k]) + b))
            decisions.append(SpanDecision(start, end, techniques[k], score, p, inside))
    return decisions


N_ARTICLE_FEATURES = 5


def article_features(decisions: list[SpanDecision], technique: str, index: int) -> np.ndarray:
    """Evidence that an article uses a technique: its spans' scores, and soft counts over all spans."""
    scores = np.array([d.score for d in decisions if d.technique == technique])
    unique = {(d.start, d.end): d for d in decisions}.values()
    soft = sum(d.inside * float(d.technique_probs[index]) for d in unique)
    if len(scores) == 0:
        return np.array([0.0, 0.0, 0.0, np.log1p(soft), np.log1p(len(unique))])
    return np.array(
        [scores.max(), 1.0 - np.prod(1.0 - scores), np.log1p(len(scores)), np.log1p(soft), np.log1p(len(unique))]
    )


def decide_article(
    decisions: list[SpanDecision], techniques: list[str], params: Params
) -> tuple[dict[str, float], dict[str, bool], float]:
    """Per technique: probability and presence; and the overall propaganda score."""
    probs, present = {}, {}
    for i, t in enumerate(techniques):
        w = np.array(params.article_weights.get(t, [4.0] + [0.0] * (N_ARTICLE_FEATURES - 1) + [-2.0]))
        probs[t] = float(_sigmoid(article_features(decisions, t, i) @ w[:-1] + w[-1]))
        present[t] = probs[t] >= params.article_thresholds.get(t, 0.5)
    # The overall score is the probability of the most likely technique: driven by evidence in the article only.
    # (A model of "any technique" fitted on PTC would learn its base rate, 96% of articles, and call a council
    # report propaganda at 0.8.)
    overall = max(probs.values()) if probs else 0.0
    return probs, present, overall
