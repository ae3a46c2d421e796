"""JSONL corpora, written: one JSON object per line with id, title, text, source, url, date (and any other fields).

They are read by `spinlens.sources` (`jsonl_documents`, or a corpus run), one input stack for every reader.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from spinlens.document import Document


def write_jsonl(documents: Iterable[Document], path: str | Path) -> int:
    """Write documents one per line (date as ISO string); returns how many were written."""
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for doc in documents:
            row = {
                "id": doc.id,
                "title": doc.title,
                "text": doc.text,
                "source": doc.source,
                "url": doc.url,
                "date": doc.published.isoformat() if doc.published else None,
                "language": doc.language,
                **doc.metadata,
            }
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n
