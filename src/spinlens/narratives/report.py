"""What the CLI tells a person on stderr about languages and narratives, beside the files it writes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from spinlens.document import Analysis

MAX_LINES = 5  # more analyses with notes than this: one line per kind of note, with counts


def notes_summary(analyses: Sequence[Analysis], catalogues: Sequence[str] = ()) -> list[str]:
    """One line per analysis with a note (``id: note``), or, for many, one line per note with how many texts and
    a few of their ids; then how many known claims were found."""
    noted = [(a.document.id, n) for a in analyses for n in a.notes]
    if len(noted) <= MAX_LINES:
        lines = [f"{doc_id}: {note}" for doc_id, note in noted]
    else:
        by_note: dict[str, list[str]] = {}
        for doc_id, note in noted:
            by_note.setdefault(note, []).append(doc_id)
        lines = [
            f"{len(ids)} texts ({', '.join(ids[:3])}{', ...' if len(ids) > 3 else ''}): {note}"
            for note, ids in sorted(by_note.items(), key=lambda kv: -len(kv[1]))
        ]
    claims = Counter(m.claim_id for a in analyses for m in a.narratives)
    texts = sum(1 for a in analyses if a.narratives)
    if claims:
        lines.append(f"{texts} of {len(analyses)} text(s) repeat {len(claims)} known claim(s)")
    elif catalogues:
        lines.append(f"no known claim of {', '.join(catalogues)} found in {len(analyses)} text(s)")
    return lines
