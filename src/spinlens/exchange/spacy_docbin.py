"""Corrected analyses as a spaCy ``DocBin``: each doc's ``doc.spans["spinlens"]`` holds its corrected spans.

A span's label is its technique (a span with two techniques is there twice). Character offsets are mapped onto
tokens by `spinlens.spacy_component.align_spans`: exactly where they can be, else expanded to whole tokens.
Needs spaCy (``pip install 'spinlens[spacy]'``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from spinlens.corrections import corrected_spans
from spinlens.document import Span
from spinlens.errors import SpinlensError
from spinlens.exchange import Corrected

if TYPE_CHECKING:
    from spacy.tokens import DocBin

SPANS_KEY = "spinlens"


class Aligned(NamedTuple):
    """How the spans went onto tokens: all of them, those expanded to token edges, those on no token."""

    spans: int
    expanded: int
    unmapped: int


def to_docbin(items: Iterable[Corrected], lang: str = "en") -> tuple[DocBin, Aligned]:
    """One doc per analysis (``doc.user_data["spinlens_analysis"]`` its id), tokenized by ``spacy.blank(lang)``."""
    try:
        import spacy
        from spacy.tokens import DocBin

        from spinlens.spacy_component import align_spans
    except ImportError:
        raise SpinlensError("the spaCy export needs spaCy: pip install 'spinlens[spacy]'") from None
    nlp = spacy.blank(lang)
    docs = DocBin(store_user_data=True)
    spans = expanded = unmapped = 0
    for analysis_id, analysis, corrections in items:
        text = analysis.document.text
        doc = nlp.make_doc(text)
        flat = [
            Span(start=s.start, end=s.end, technique=t)
            for s in corrected_spans(text, analysis.spans, corrections)
            for t in s.techniques
        ]
        group, infos, missed = align_spans(doc, flat, SPANS_KEY)
        doc.spans[SPANS_KEY] = group
        doc.user_data["spinlens_analysis"] = analysis_id
        docs.add(doc)
        spans += len(infos)
        expanded += sum(info["expanded"] for info in infos)
        unmapped += len(missed)
    return docs, Aligned(spans, expanded, unmapped)


def write_docbin(items: Iterable[Corrected], output: Path) -> tuple[Path, Aligned]:
    """Write the DocBin to ``output`` (``.spacy`` added when it has another suffix); returns the path written."""
    path = output if output.suffix == ".spacy" else output.with_name(output.name + ".spacy")
    docs, aligned = to_docbin(items)
    path.parent.mkdir(parents=True, exist_ok=True)
    docs.to_disk(path)
    return path, aligned
