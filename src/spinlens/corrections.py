"""Corrections: what people say about a model's spans, and the corrected state that follows from it.

A correction never overwrites the model's output: the store keeps the analysis as the model made it and every
correction beside it (who, when, which analysis, model and version). The corrected state of an article is a pure
function of the two, `corrected_spans`, so the page, the API and every export agree on it.

Five kinds, one per thing a reviewer does:

| kind | on | means |
|---|---|---|
| accept | a model span | the span and its technique are right |
| reject | a model span | there is no technique here |
| relabel | a model span | right passage, other technique(s): ``techniques`` |
| move | a model span | right technique, other edges: ``start``/``end`` (snapped to whole words) |
| add | the text | a span the model missed: ``start``/``end`` and ``techniques`` |

For a model span, its latest correction wins (a reviewer may change their mind); corrections of a span that
was since corrected by someone else are kept in the history. ``add`` corrections each make a span of their own;
an added span is withdrawn by a ``reject`` naming it (``target`` = "added:<correction id>").
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from spinlens import taxonomy
from spinlens.document import Span


class Kind(StrEnum):
    accept = "accept"
    reject = "reject"
    relabel = "relabel"
    move = "move"
    add = "add"


class CorrectionIn(BaseModel):
    """A correction as a person (or the API) gives it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind
    span: int | None = Field(
        default=None, ge=0, description="Index of the model's span in the analysis (accept/reject/relabel/move)"
    )
    added: int | None = Field(default=None, ge=1, description="Id of an earlier 'add' correction (reject only)")
    start: int | None = Field(default=None, ge=0, description="move/add: first character")
    end: int | None = Field(default=None, ge=1, description="move/add: one past the last character")
    techniques: list[str] = Field(
        default_factory=list, max_length=14, description="relabel/add: PTC technique ids, one or more"
    )

    @model_validator(mode="after")
    def _complete(self) -> CorrectionIn:
        k = self.kind
        if k in (Kind.accept, Kind.relabel, Kind.move) and self.span is None:
            raise ValueError(f"'{k}' needs 'span', the index of the model's span")
        if k == Kind.reject and (self.span is None) == (self.added is None):
            raise ValueError("'reject' needs either 'span' (a model span) or 'added' (an added span's correction id)")
        if k in (Kind.move, Kind.add) and (self.start is None or self.end is None or self.end <= self.start):
            raise ValueError(f"'{k}' needs 'start' < 'end'")
        if k in (Kind.relabel, Kind.add) and not self.techniques:
            raise ValueError(f"'{k}' needs 'techniques', one or more")
        unknown = [t for t in self.techniques if t not in taxonomy.PTC14]
        if unknown:
            raise ValueError(f"unknown technique {unknown[0]!r}; known: the 14 PTC technique ids")
        if len(set(self.techniques)) != len(self.techniques):
            raise ValueError("a technique is named twice")
        return self


class Correction(CorrectionIn):
    """A stored correction: what was said, about which analysis and model, by whom and when."""

    id: int
    analysis_id: int
    model: str
    model_version: str
    author: str
    created: dt.datetime


class CorrectedSpan(BaseModel):
    """One span of the corrected article. ``origin``: the model span it comes from, or None when added."""

    model_config = ConfigDict(frozen=True)

    start: int
    end: int
    techniques: list[str]
    status: str = Field(
        description="model (not reviewed); added; rejected (only where rejected spans are asked for); or what was "
        "done to it, in order: accepted, relabelled, moved (e.g. 'moved, accepted')"
    )
    origin: int | None = None
    correction: int | None = Field(default=None, description="Id of the correction that decided it")
    author: str | None = Field(default=None, description="Who decided it (None: nobody, the model's own)")
    decided: dt.datetime | None = Field(default=None, description="When it was decided")
    model_span: Span | None = None

    @property
    def reviewed(self) -> bool:
        """A person decided this span (accepted, relabelled, moved or added it)."""
        return self.status != "model"


def snap_to_words(text: str, start: int, end: int) -> tuple[int, int]:
    """Edges moved out to whole words and in past white space: what a reviewer meant by a rough selection."""
    from spinlens.detect.spans import widen_to_words

    start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start >= end:
        raise ValueError("the selection holds no text")
    return widen_to_words(text, start, end)


def corrected_spans(text: str, spans: list[Span], corrections: list[Correction]) -> list[CorrectedSpan]:
    """The article as corrected: model spans (reviewed or not; rejected ones left out) and added spans, by start.

    A model span's corrections apply in the order they were made: a move sets its edges, a relabel its
    techniques, an accept confirms it as it then stands, a reject removes it, and a later correction of any kind
    brings it back. Model spans that share a passage (one per technique) are reviewed one by one.
    """
    return [s for s in fold_spans(text, spans, corrections) if s.status != "rejected"]


def rejected_spans(text: str, spans: list[Span], corrections: list[Correction]) -> list[CorrectedSpan]:
    """The model spans people rejected (status "rejected"), as they stood when rejected: negatives to learn from."""
    return [s for s in fold_spans(text, spans, corrections) if s.status == "rejected"]


def fold_spans(text: str, spans: list[Span], corrections: list[Correction]) -> list[CorrectedSpan]:
    """Every model span with what people did to it (rejected ones included), and the added spans, by start."""
    per_span: dict[int, list[Correction]] = {}
    added: dict[int, Correction] = {}
    withdrawn: set[int] = set()
    for c in sorted(corrections, key=lambda c: (c.created, c.id)):
        if c.kind == Kind.add:
            added[c.id] = c
        elif c.kind == Kind.reject and c.added is not None:
            withdrawn.add(c.added)
        elif c.span is not None and c.span < len(spans):
            per_span.setdefault(c.span, []).append(c)
    out: list[CorrectedSpan] = []
    for i, span in enumerate(spans):
        start, end, techniques, done, last = span.start, span.end, [span.technique], [], None
        rejected = False
        for c in per_span.get(i, []):
            last, rejected = c, c.kind == Kind.reject
            if c.kind == Kind.move:
                start, end = _snap_or_keep(text, c.start, c.end)  # type: ignore[arg-type]
            elif c.kind == Kind.relabel:
                techniques = list(c.techniques)
            if c.kind != Kind.reject and _STATUS[c.kind] not in done:
                done.append(_STATUS[c.kind])
        out.append(
            CorrectedSpan(
                start=start,
                end=end,
                techniques=techniques,
                status="rejected" if rejected else ", ".join(done) or "model",
                origin=i,
                correction=last.id if last else None,
                author=last.author if last else None,
                decided=last.created if last else None,
                model_span=span,
            )
        )
    for cid, c in added.items():
        if cid not in withdrawn:
            start, end = _snap_or_keep(text, c.start, c.end)  # type: ignore[arg-type]
            out.append(
                CorrectedSpan(
                    start=start,
                    end=end,
                    techniques=list(c.techniques),
                    status="added",
                    correction=cid,
                    author=c.author,
                    decided=c.created,
                )
            )
    return sorted(out, key=lambda s: (s.start, s.end, s.techniques))


_STATUS = {Kind.accept: "accepted", Kind.relabel: "relabelled", Kind.move: "moved"}


def _snap_or_keep(text: str, start: int, end: int) -> tuple[int, int]:
    try:
        return snap_to_words(text, start, end)
    except ValueError:
        return start, end
