"""From the spans a reviewer ended with (in Label Studio, say) to the fewest corrections that produce them.

A reviewed region is a passage and its techniques, like a corrected span. The regions are matched with the
analysis as it stands now (its model spans and the corrections already made):

* a span whose region is still there, same edges and techniques: ``accept`` if nobody reviewed it yet (a
  rejected model span found again is accepted back); nothing otherwise;
* a model span whose edges now carry other techniques: ``relabel``;
* a span that is gone: ``reject`` (for an added span, a ``reject`` naming that addition);
* a region left over: ``add``.

An edge moved in the other tool reads as a rejected span and an added one. Importing the corrected state
unchanged adds no span and changes none.
"""

from __future__ import annotations

from collections.abc import Sequence

from spinlens.corrections import CorrectedSpan, Correction, CorrectionIn, Kind, corrected_spans
from spinlens.document import Span

Region = tuple[int, int, list[str]]  # start, end, techniques


def corrections_to_reach(
    text: str, spans: list[Span], corrections: list[Correction], regions: Sequence[Region]
) -> list[CorrectionIn]:
    """Corrections that turn an analysis's corrected state into exactly ``regions``."""
    left: list[Region | None] = list(regions)
    current = corrected_spans(text, spans, corrections)
    shown = {s.origin: s for s in sorted(current, key=_origin) if s.origin is not None}
    added = [s for s in current if s.origin is None]
    # where each model span would stand were it not rejected: its moves and relabels applied
    unrejected = [c for c in corrections if not (c.kind == Kind.reject and c.span is not None)]
    would = {s.origin: s for s in sorted(corrected_spans(text, spans, unrejected), key=_origin) if s.origin is not None}

    def take(span: CorrectedSpan, same_techniques: bool = True) -> list[str] | None:
        """The techniques of the first region left at the span's edges (with its techniques); None if none."""
        for k, region in enumerate(left):
            if region is None or (region[0], region[1]) != (span.start, span.end):
                continue
            if same_techniques and set(region[2]) != set(span.techniques):
                continue
            left[k] = None
            return region[2]
        return None

    decided: dict[int, CorrectionIn | None] = {}
    for i, span in shown.items():
        if take(span) is not None:
            decided[i] = CorrectionIn(kind=Kind.accept, span=i) if span.status == "model" else None
    kept = [s.correction for s in added if take(s) is not None]
    for i, span in would.items():
        if i not in decided and i not in shown and take(span) is not None:
            decided[i] = CorrectionIn(kind=Kind.accept, span=i)
    for i, span in would.items():
        if i not in decided and (techniques := take(span, same_techniques=False)) is not None:
            decided[i] = CorrectionIn(kind=Kind.relabel, span=i, techniques=techniques)
    for i in shown:
        decided.setdefault(i, CorrectionIn(kind=Kind.reject, span=i))
    out = [c for _, c in sorted(decided.items()) if c is not None]
    out += [CorrectionIn(kind=Kind.reject, added=s.correction) for s in added if s.correction not in kept]
    out += [CorrectionIn(kind=Kind.add, start=r[0], end=r[1], techniques=r[2]) for r in left if r]
    return out


def _origin(span: CorrectedSpan) -> int:
    """Model spans in their order in the analysis (the first of several on one passage is relabelled first)."""
    return -1 if span.origin is None else span.origin
