"""The reviewed state of an analysis: the one function (`review`) that every view and export uses.

`review(model, corrections, mark)` turns the analysis as the model made it, the corrections people made and the
"review complete" mark into a `Reviewed`: the corrected `Analysis` (spans, article verdicts and score, recomputed)
beside the model's own, and for every span what was decided, by whom and when.

How the corrected verdicts follow from the corrected spans (the rule of `spinlens.detect.decide.decide_article`,
applied to other evidence):

- a span a person accepted, relabelled, moved or added has confidence 1 (score, span and technique confidence);
- a span nobody reviewed keeps the model's confidences; a rejected span is gone;
- a technique is present exactly when a corrected span has it; its probability is the noisy-or of those spans'
  scores (so 1 as soon as a person confirmed one), and the article's score is the largest of these (0: no span).

An analysis nobody corrected is returned unchanged.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from spinlens import taxonomy
from spinlens.corrections import CorrectedSpan, Correction, fold_spans
from spinlens.document import Analysis, Span, TechniqueVerdict


class Decision(StrEnum):
    """What became of one span: nobody looked at it (``model``), or what a person did."""

    model = "model"
    accepted = "accepted"
    rejected = "rejected"
    relabelled = "relabelled"
    moved = "moved"
    added = "added"


POSITIVE = frozenset({Decision.accepted, Decision.relabelled, Decision.moved, Decision.added})


def decision(span: CorrectedSpan) -> Decision:
    """One word for a span's status: moved over relabelled over accepted when a person did several of these."""
    done = set(span.status.split(", "))
    for d in (Decision.added, Decision.rejected, Decision.moved, Decision.relabelled, Decision.accepted):
        if d.value in done:
            return d
    return Decision.model


class ReviewMark(BaseModel):
    """Who marked an analysis's review complete, and when."""

    model_config = ConfigDict(frozen=True)

    analysis_id: int
    author: str
    marked: dt.datetime


@dataclass(frozen=True)
class Reviewed:
    """An analysis as people left it, with the model's original beside it."""

    model: Analysis  # as the model made it (never changed)
    corrections: list[Correction]
    mark: ReviewMark | None
    spans: list[CorrectedSpan]  # the corrected spans, rejected ones left out, by start
    rejected: list[CorrectedSpan]  # the model spans people rejected
    analysis: Analysis  # the corrected analysis: one `Span` per technique of each corrected span
    span_reviews: list[CorrectedSpan]  # parallel to ``analysis.spans``: the corrected span each comes from
    analysis_id: int | None = None

    @property
    def corrected(self) -> bool:
        """People corrected something (the shown state may differ from the model's)."""
        return bool(self.corrections)

    @property
    def complete(self) -> bool:
        """A person marked the review complete: spans that are not there count as absent."""
        return self.mark is not None

    @property
    def positives(self) -> list[CorrectedSpan]:
        """Spans a person accepted, relabelled, moved or added: the only positive labels a training export takes."""
        return [s for s in self.spans if decision(s) in POSITIVE]

    @property
    def decided(self) -> bool:
        """A person decided anything here: a span, or that the review is complete."""
        return bool(self.positives or self.rejected or self.mark)


def review(
    model: Analysis, corrections: list[Correction], mark: ReviewMark | None = None, analysis_id: int | None = None
) -> Reviewed:
    """The reviewed state: see the module's docstring."""
    folded = fold_spans(model.document.text, model.spans, corrections)
    kept = [s for s in folded if s.status != "rejected"]
    rejected = [s for s in folded if s.status == "rejected"]
    if not corrections:
        spans, reviews, corrected = list(model.spans), [_unreviewed(s, i) for i, s in enumerate(model.spans)], model
    else:
        flat = [(s, _span(model, s, t)) for s in kept for t in s.techniques]
        spans, reviews = [sp for _, sp in flat], [s for s, _ in flat]
        verdicts, score = _verdicts(model, spans)
        corrected = model.model_copy(update={"spans": spans, "techniques": verdicts, "propaganda_score": score})
    return Reviewed(model, list(corrections), mark, kept, rejected, corrected, reviews, analysis_id)


def _unreviewed(span: Span, i: int) -> CorrectedSpan:
    return CorrectedSpan(start=span.start, end=span.end, techniques=[span.technique], status="model", origin=i)


def _span(model: Analysis, s: CorrectedSpan, technique: str) -> Span:
    """One technique of a corrected span: the model's confidences while nobody reviewed it, else 1."""
    note = taxonomy.explain(technique, model.document.text[s.start : s.end], model.scheme)
    if s.status == "model" and s.model_span is not None:
        return s.model_span.model_copy(update={"note": s.model_span.note or note})
    return Span(
        start=s.start,
        end=s.end,
        technique=technique,
        score=1.0,
        span_confidence=1.0,
        technique_confidence=1.0,
        note=note if taxonomy.is_technique(technique, model.scheme) else None,
    )


def _verdicts(model: Analysis, spans: list[Span]) -> tuple[list[TechniqueVerdict], float]:
    """Per technique, presence and noisy-or probability from these spans; the score is the largest probability."""
    names = [v.technique for v in model.techniques] or [t.name for t in taxonomy.techniques(model.scheme)]
    names += [t for t in dict.fromkeys(s.technique for s in spans) if t not in names]
    probability = {
        t: round(1.0 - math.prod(1.0 - (s.score if s.score is not None else 1.0) for s in spans if s.technique == t), 4)
        for t in names
    }
    present = {s.technique for s in spans}
    verdicts = [TechniqueVerdict(technique=t, present=t in present, probability=probability[t]) for t in names]
    return verdicts, max(probability.values(), default=0.0)


def uncertainty(reviewed: Reviewed) -> float:
    """How unsure the model is about what nobody has reviewed yet, 0 (sure) to 1: the largest ``1 - |2p - 1|`` over
    its unreviewed spans' scores and its article verdicts. What to send to reviewers first."""
    if reviewed.complete:
        return 0.0
    ps = [s.score for s, r in zip(reviewed.analysis.spans, reviewed.span_reviews, strict=True) if r.status == "model"]
    ps += [v.probability for v in reviewed.analysis.techniques]
    return round(max((1.0 - abs(2.0 * p - 1.0) for p in ps if p is not None), default=0.0), 4)
