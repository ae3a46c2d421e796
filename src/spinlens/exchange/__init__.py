"""Reviewed analyses in and out of other tools: PTC files and a spaCy DocBin (to train on), Label Studio (to review).

Every converter takes `spinlens.review.state.Reviewed` analyses, so the page, the API and every export agree.

Training exports (PTC, spaCy) take only what people decided, never the model's own output:

- spans a person accepted, relabelled, moved or added are the positive labels;
- spans a person rejected are negatives (PTC: text without a label; spaCy: ``doc.spans["spinlens_rejected"]``);
- a span nobody reviewed is never a label, and the text outside the labels counts as "no technique" only in an
  article whose review a person marked complete. So only those articles go out: PTC (and spaCy's span
  categorizer) read every character without a label as "no technique", and in a half-reviewed article that would
  teach the model that the passages nobody looked at yet are clean.

Label Studio gets the opposite: the model's spans as predictions to review (`spinlens.exchange.labelstudio`).
`spinlens.exchange.review` goes back: from the spans a reviewer ended with to the fewest corrections.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from spinlens.errors import InputError
from spinlens.review.state import Reviewed

TRAINING_FORMATS = ("ptc", "spacy")
FORMATS = ("parquet", "labelstudio", *TRAINING_FORMATS)


def ptc_scheme(items: Iterable[Reviewed]) -> tuple[list[Reviewed], list[str]]:
    """The analyses in the PTC scheme (corrections name PTC techniques), and a note on those left out."""
    items = list(items)
    kept = [r for r in items if r.model.scheme == "ptc14"]
    left = len(items) - len(kept)
    return kept, [f"left out {left} analyses of another scheme than ptc14"] if left else []


def export_training(items: Iterable[Reviewed], fmt: str, output: Path) -> list[str]:
    """Write the human decisions of analyses whose review is complete in ``fmt`` (ptc: a new folder; spacy: a
    .spacy file). Returns lines to tell the user (what was written, what was left out and why)."""
    kept, notes = ptc_scheme(items)
    complete = [r for r in kept if r.complete]
    partial = [r for r in kept if not r.complete and r.decided]
    if partial:
        notes.append(
            f"left out {len(partial)} analyses with corrections but no 'review complete' mark (their unreviewed text "
            "would count as 'no technique'): mark them complete on the page, with POST "
            "/api/analyses/ID/review-complete, or by submitting them in Label Studio"
        )
    if not complete:
        raise InputError(
            "no analysis with a complete review to export; mark reviewed analyses complete first"
            + (f" ({len(partial)} have corrections)" if partial else "")
        )
    if fmt == "ptc":
        from spinlens.exchange.ptc import write_ptc

        n_labels = write_ptc(complete, output)
        return [
            *notes,
            f"wrote {len(complete)} reviewed articles and {n_labels} labels (human decisions only) to {output}/ "
            f"(train with --extra {output})",
        ]
    if fmt == "spacy":
        from spinlens.exchange.spacy_docbin import write_docbin

        path, aligned = write_docbin(complete, output)
        notes.append(f"wrote {len(complete)} reviewed docs with {aligned.spans} spans to {path}")
        if aligned.expanded:
            notes.append(f"{aligned.expanded} spans did not fall on token edges and were expanded to whole tokens")
        if aligned.unmapped:
            notes.append(f"{aligned.unmapped} spans cover no token and were left out")
        return notes
    raise InputError(f"unknown training format {fmt!r}; expected one of: {', '.join(TRAINING_FORMATS)}")
