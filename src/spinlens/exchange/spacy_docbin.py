"""Reviewed analyses as a spaCy ``DocBin``: ``doc.spans["spinlens"]`` holds the spans people decided (accepted,
relabelled, moved, added), ``doc.spans["spinlens_rejected"]`` the model spans they rejected (negatives).

Only analyses whose review is complete go out (`spinlens.exchange`), so a span categorizer may read the text
outside ``doc.spans["spinlens"]`` as "no technique". A span's label is its technique (two techniques: twice). Character offsets are mapped onto
tokens by `spinlens.spacy_component.align_spans`: exactly where they can be, else expanded to whole tokens.
Needs spaCy (``pip install 'spinlens[spacy]'``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from spinlens.corrections import CorrectedSpan
from spinlens.document import Span
from spinlens.errors import SpinlensError
from spinlens.review.state import Reviewed

if TYPE_CHECKING:
    from spacy.tokens import DocBin

SPANS_KEY = "spinlens"
REJECTED_KEY = "spinlens_rejected"


class Aligned(NamedTuple):
    """How the spans went onto tokens: all of them, those expanded to token edges, those on no token."""

    spans: int
    expanded: int
    unmapped: int


def to_docbin(items: Iterable[Reviewed], lang: str = "en") -> tuple[DocBin, Aligned]:
    """One doc per analysis (``doc.user_data["spinlens_analysis"]`` its id), tokenized by ``spacy.blank(lang)``;
    the counts are those of the positive spans."""
    try:
        import spacy
        from spacy.tokens import DocBin

        from spinlens.spacy_component import align_spans
    except ImportError:
        raise SpinlensError("the spaCy export needs spaCy: pip install 'spinlens[spacy]'") from None
    nlp = spacy.blank(lang)
    docs = DocBin(store_user_data=True)
    spans = expanded = unmapped = 0
    for r in items:
        doc = nlp.make_doc(r.model.document.text)
        group, infos, missed = align_spans(doc, _flat(r.positives), SPANS_KEY)
        doc.spans[SPANS_KEY] = group
        doc.spans[REJECTED_KEY] = align_spans(doc, _flat(r.rejected), REJECTED_KEY)[0]
        doc.user_data["spinlens_analysis"] = r.analysis_id
        doc.user_data["spinlens_review_complete"] = r.complete
        docs.add(doc)
        spans += len(infos)
        expanded += sum(info["expanded"] for info in infos)
        unmapped += len(missed)
    return docs, Aligned(spans, expanded, unmapped)


def _flat(spans: list[CorrectedSpan]) -> list[Span]:
    return [Span(start=s.start, end=s.end, technique=t) for s in spans for t in s.techniques]


def write_docbin(items: Iterable[Reviewed], output: Path) -> tuple[Path, Aligned]:
    """Write the DocBin to ``output`` (``.spacy`` added when it has another suffix); returns the path written."""
    path = output if output.suffix == ".spacy" else output.with_name(output.name + ".spacy")
    docs, aligned = to_docbin(items)
    path.parent.mkdir(parents=True, exist_ok=True)
    docs.to_disk(path)
    return path, aligned
