"""Decisions on top of the per-wordpiece outputs: which spans, which techniques, which article-level labels.

Every number used here is in `Params`, fitted on held-out folds (see `spinlens.training.tune`) and saved with the
model, so that a newcomer can read exactly what the detector does with its probabilities.

Each decision depends on the span's own sentence unit and, for Repetition, on whether its words recur in the
text; never on where the span stands or on a statistic of the whole document. (Issue 9 measured the per-article
relative threshold that used to be here: with it, answers moved when text was added around an article.)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from dataclasses import asdict, dataclass, field

import numpy as np

from spinlens.detect.encoder import unit_chars, unit_starts
from spinlens.detect.features import ArticleView, span_evidence, span_features
from spinlens.detect.model import TokenOutputs
from spinlens.detect.spans import decode_spans, quotations, reported_quote
from spinlens.detect.techniques import TechniqueClassifier

REPETITION = "Repetition"


@dataclass
class Params:
    span_threshold: float = 0.35  # inside-probability above which a wordpiece is part of a span
    span_accept: float = 0.5  # a span is reported only if one of its wordpieces reaches this
    second_technique: float = 0.35  # a span also gets its runner-up technique above this probability
    # Platt scaling of the log-odds of a span's mean inside-probability: P(the span is propaganda at all)
    span_calibration: tuple[float, float] = (1.0, 0.0)
    # When set, P(the span is propaganda at all) comes from this instead: a logistic regression over the span's
    # evidence (`features.span_evidence`), weights then bias, standardisation folded in (`training.tune.fit_scorer`)
    span_scorer: list[float] | None = None
    span_keep: float = 0.0  # a span is reported only when that probability reaches this
    temperature: float = 1.0  # softmax temperature of technique probabilities (calibration of P(technique | span))
    # per technique: a span is reported with it (and the article uses it) only when its score reaches this
    technique_thresholds: dict[str, float] = field(default_factory=dict)

    __pydantic_config__ = {"extra": "forbid"}  # read in `ModelConfig`: a parameter of another version is an error

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Params:
        data = dict(data)
        data["span_calibration"] = tuple(data.get("span_calibration", (1.0, 0.0)))
        return cls(**data)


@dataclass
class SpanDecision:
    start: int
    end: int
    technique: str
    span_confidence: float  # calibrated probability that the span is propaganda at all
    technique_confidence: float  # calibrated probability of this technique, given that it is
    technique_probs: np.ndarray  # the classifier's distribution over all techniques for this span
    inside: float  # the tagger's mean inside-probability over the span

    @property
    def score(self) -> float:
        """Probability that this span uses this technique: the product of the two confidences."""
        return self.span_confidence * self.technique_confidence


def candidate_spans(
    text: str, offsets: np.ndarray, out: TokenOutputs, params: Params, unit_starts: np.ndarray | None = None
) -> list[tuple[int, int, float]]:
    """Spans decoded from the merged tags and, for a model with a label layer, the label layer's spans that are not
    already there (a label inside a longer span is a candidate of its own), in text order."""
    spans = decode_spans(offsets, out.tag_probs, params.span_threshold, text, params.span_accept, unit_starts)
    if out.label_probs is None:
        return spans
    seen = {(a, b) for a, b, _ in spans}
    labels = decode_spans(offsets, out.label_probs, params.span_threshold, text, params.span_accept, unit_starts)
    return sorted(spans + [s for s in labels if (s[0], s[1]) not in seen])


def reported_spans(text: str, offsets: np.ndarray, units: np.ndarray, spans: list[tuple[int, int]]) -> list[bool]:
    """Per span: a short quotation that its sentence unit attributes to someone (`spans.reported_quote`). A span's
    decision never depends on the other spans, so dropping these after deciding equals never deciding them."""
    if not len(units):
        return [False] * len(spans)
    ranges = unit_chars(offsets, units)
    of = [max(0, int(np.searchsorted(ranges[:, 0], a, side="right")) - 1) for a, _ in spans]
    quoted = {u: quotations(text, *map(int, ranges[u])) for u in set(of)}  # once a unit: one may be a book
    return [
        reported_quote(text, a, b, *map(int, ranges[u]), quoted=quoted[u]) for (a, b), u in zip(spans, of, strict=True)
    ]


def _logit(p: np.ndarray | float) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _sigmoid(z: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(z)))


def _softmax(z: np.ndarray, temperature: float) -> np.ndarray:
    z = z / temperature
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def decide_spans(
    text: str,
    offsets: np.ndarray,
    units: np.ndarray,
    out: TokenOutputs,
    classifier: TechniqueClassifier,
    techniques: list[str],
    params: Params,
) -> list[SpanDecision]:
    spans = candidate_spans(text, offsets, out, params, unit_starts(units, len(offsets)))
    if not spans:
        return []
    view = ArticleView(text, offsets, out.vectors, out.technique_probs, units)
    features = np.stack([span_features(view, a, b) for a, b, _ in spans])
    logits = classifier.logits(features)
    probs = _softmax(logits, params.temperature)
    recurs = [view.recurs(a, b) for a, b, _ in spans]
    evidence = None
    if params.span_scorer is not None:
        evidence = np.stack(
            [
                span_evidence(view, out.tag_probs, a, b, z, out.label_probs)
                for (a, b, _), z in zip(spans, logits, strict=True)
            ]
        )
    return label_spans(spans, probs, recurs, techniques, params, evidence=evidence)


def span_confidences(inside: np.ndarray, params: Params, evidence: np.ndarray | None = None) -> np.ndarray:
    """Per span, the calibrated probability that it is propaganda at all: the span scorer's over its evidence when
    the model has one (`Params.span_scorer`), else Platt scaling of its mean inside-probability."""
    if params.span_scorer is None:
        a, b = params.span_calibration
        return _sigmoid(a * _logit(inside) + b)
    if evidence is None:
        raise ValueError("this model scores spans by their evidence (features.span_evidence); none was given")
    w = np.asarray(params.span_scorer)
    return _sigmoid(evidence @ w[:-1] + w[-1])


def label_spans(
    spans: list[tuple[int, int, float]],
    probs: np.ndarray,
    recurs: list[bool],
    techniques: list[str],
    params: Params,
    thresholds: bool = True,
    evidence: np.ndarray | None = None,
) -> list[SpanDecision]:
    """Each span gets its most likely technique, and its runner-up too when that is likely enough.

    A span less likely than ``params.span_keep`` to be propaganda at all (`span_confidences`) is not reported.
    Repetition is only possible for a phrase that recurs in the text. A technique is kept only when the span's
    score reaches that technique's threshold (``thresholds=False``: all kept, for tuning them); a span left with
    no technique is not reported. ``evidence``: one row of `features.span_evidence` per span, for a span scorer.
    """
    rep = techniques.index(REPETITION) if REPETITION in techniques else -1
    confidences = span_confidences(np.array([s[2] for s in spans], dtype=float), params, evidence)
    decisions = []
    for (start, end, inside), p, again, span_confidence in zip(spans, probs, recurs, confidences, strict=True):
        if span_confidence < params.span_keep:
            continue
        if rep >= 0 and not again and p[rep] > 0:
            p = p.copy()
            p[rep] = 0.0
            p /= p.sum()
        span_confidence = float(span_confidence)
        order = np.argsort(-p)
        picks = [order[0]] + ([order[1]] if p[order[1]] >= params.second_technique else [])
        for k in picks:
            d = SpanDecision(start, end, techniques[k], span_confidence, float(p[k]), p, inside)
            if not thresholds or d.score >= params.technique_thresholds.get(d.technique, 0.0):
                decisions.append(d)
    return decisions


def decide_article(
    decisions: list[SpanDecision], techniques: list[str]
) -> tuple[dict[str, float], dict[str, bool], float]:
    """Per technique: probability and presence, from the article's spans only; and the overall score.

    A technique is present exactly when at least one reported span has it; its probability is the chance that
    at least one of those spans is right (noisy-or of their scores, treating them as independent evidence). The
    overall score is the largest of these: 0 for a text with no span.
    """
    probs = {t: 0.0 for t in techniques}
    for t in techniques:
        scores = [d.score for d in decisions if d.technique == t]
        if scores:
            probs[t] = float(1.0 - np.prod(1.0 - np.array(scores)))
    present = {t: any(d.technique == t for d in decisions) for t in techniques}
    overall = max(probs.values()) if probs else 0.0
    return probs, present, overall


def rank_techniques(probs: np.ndarray, keys: list[Hashable], techniques: list[str]) -> list[str]:
    """One technique per given span (the TC task): a span given k times gets its k most likely techniques.

    ``probs`` has one row per span (columns in ``techniques``); ``keys`` identify a span, e.g. (article, start, end).
    """
    seen: Counter = Counter()
    out = []
    for p, key in zip(probs, keys, strict=True):
        rank = min(seen[key], len(techniques) - 1)
        seen[key] += 1
        out.append(techniques[int(np.argsort(-p)[rank])])
    return out
