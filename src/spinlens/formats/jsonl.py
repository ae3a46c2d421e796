"""JSONL corpora: one JSON object per line with id, title, text, source, url, date (and any other fields)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from spinlens.document import Document
from spinlens.errors import InputError


def iter_jsonl(path: str | Path) -> Iterator[Document]:
    """Documents from a JSONL file, read by `spinlens.sources` (the corpus reader, whose rules and limits apply).

    Where a corpus run records a bad line and goes on, this stops there: InputError naming the file and line.
    """
    from spinlens.sources import Options
    from spinlens.sources.tables import read_jsonl as read_items

    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path)
    for item in read_items(path, Options()):
        if item.document is None:
            where = item.ref.removeprefix(str(path))
            raise InputError(item.error or "unreadable", path, int(where[1:]) if where[1:].isdigit() else None)
        yield item.document


def read_jsonl(path: str | Path) -> list[Document]:
    return list(iter_jsonl(path))


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
