"""Reviewed analyses as PTC files: ``articles/article<ID>.txt`` and ``corrections.labels``, trainable as is.

Only what people decided becomes a label (`spinlens.exchange`): the spans accepted, relabelled, moved or added.
The analysis id is the article id, so ``spinlens train --extra DIR`` (and `read_articles`/`read_labels`) load the
folder. A span with two techniques gives two label lines, as in PTC.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from spinlens.document import Document
from spinlens.errors import InputError
from spinlens.formats.ptc import Label, write_labels
from spinlens.formats.text import write_text
from spinlens.review.state import Reviewed

LABELS_FILE = "corrections.labels"


def ptc_labels(items: Iterable[Reviewed]) -> list[Label]:
    """One TC label per technique of each span a person decided, by article then offset (a label twice: once)."""
    labels = (
        Label(str(r.analysis_id), span.start, span.end, technique)
        for r in items
        for span in r.positives
        for technique in span.techniques
    )
    return list(dict.fromkeys(labels))


def write_ptc(items: Iterable[Reviewed], folder: Path) -> int:
    """Write the articles (exact text) and their labels into ``folder``, which must be new or empty; returns
    the number of label lines."""
    items = list(items)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InputError("exists and is not an empty folder; choose a new one (old articles would be read too)", folder)
    articles = folder / "articles"
    articles.mkdir(parents=True, exist_ok=True)
    for r in items:
        write_text(
            Document(id=str(r.analysis_id), text=r.model.document.text), articles / f"article{r.analysis_id}.txt"
        )
    return write_labels(ptc_labels(items), folder / LABELS_FILE)
