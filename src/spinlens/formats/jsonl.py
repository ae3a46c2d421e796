"""JSONL corpora: one JSON object per line with id, title, text, source, url, date (and any other fields)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from spinlens.document import Document
from spinlens.errors import InputError
from spinlens.formats.rows import Columns, document_from_row
from spinlens.formats.text import decode


def iter_jsonl(path: str | Path) -> Iterator[Document]:
    """Documents from a JSONL file. A bad line raises InputError naming file and line; blank lines are skipped."""
    path = Path(path)
    text = decode(path.read_bytes(), path)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON ({exc.msg} at column {exc.colno})", path, number) from None
        if not isinstance(row, dict):
            raise InputError(f"expected a JSON object, got {type(row).__name__}", path, number)
        try:
            yield document_from_row(row, Columns(), f"{path.stem}:{number}")
        except ValueError as exc:
            raise InputError(str(exc), path, number) from None


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
