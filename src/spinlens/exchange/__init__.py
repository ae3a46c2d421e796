"""Corrected analyses in and out of other tools: PTC files (to train on), Label Studio (to review), spaCy DocBin.

Every converter takes what `Store.corrected()` yields, ``(analysis id, analysis as the model made it,
corrections)``, and writes the corrected state that `spinlens.corrections.corrected_spans` gives, so the page,
the API and every export agree. `spinlens.exchange.review` goes the other way: from spans a reviewer ended with
to the fewest corrections that produce them.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from spinlens.corrections import Correction
from spinlens.document import Analysis
from spinlens.errors import InputError

Corrected = tuple[int, Analysis, list[Correction]]
FORMATS = ("ptc", "labelstudio", "spacy")


def export_corrections(items: Iterable[Corrected], fmt: str, output: Path) -> list[str]:
    """Write corrected analyses in ``fmt`` (ptc: a folder; labelstudio: a JSON file; spacy: a .spacy file).

    Returns lines to tell the user (what was written, what was left out). Only PTC-scheme analyses go out: the
    corrections name PTC techniques.
    """
    items = list(items)
    kept = [item for item in items if item[1].scheme == "ptc14"]
    notes = (
        [f"left out {len(items) - len(kept)} analyses of another scheme than ptc14"] if len(kept) < len(items) else []
    )
    if not kept:
        raise InputError("no corrected analyses to export (correct some spans first)")
    if fmt == "ptc":
        from spinlens.exchange.ptc import write_ptc

        n_labels = write_ptc(kept, output)
        return [*notes, f"wrote {len(kept)} articles and {n_labels} labels to {output}/ (train with --extra {output})"]
    if fmt == "labelstudio":
        from spinlens.exchange.labelstudio import write_tasks

        config = write_tasks(kept, output)
        return [*notes, f"wrote {len(kept)} Label Studio tasks to {output} and their labelling config to {config}"]
    if fmt == "spacy":
        from spinlens.exchange.spacy_docbin import write_docbin

        path, aligned = write_docbin(kept, output)
        notes.append(f"wrote {len(kept)} docs with {aligned.spans} spans to {path}")
        if aligned.expanded:
            notes.append(f"{aligned.expanded} spans did not fall on token edges and were expanded to whole tokens")
        if aligned.unmapped:
            notes.append(f"{aligned.unmapped} spans cover no token and were left out")
        return notes
    raise InputError(f"unknown format {fmt!r}; expected one of: {', '.join(FORMATS)}")
