"""JSONL corpora: one JSON object per line with id, title, text, source, url, date (and any other fields)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import ValidationError

from spinlens.document import Document
from spinlens.errors import InputError
from spinlens.formats.text import decode

_FIELDS = {"id", "title", "text", "source", "url", "date", "published", "language"}


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
        if not isinstance(row.get("text"), str) or not row["text"].strip():
            raise InputError("field 'text' is missing or empty", path, number)
        extra = {k: v for k, v in row.items() if k not in _FIELDS}
        try:
            yield Document(
                id=str(row.get("id") or f"{path.stem}:{number}"),
                text=row["text"],
                title=row.get("title"),
                source=row.get("source"),
                url=row.get("url"),
                published=row.get("published", row.get("date")) or None,
                language=row.get("language"),
                metadata=extra,
            )
        except ValidationError as exc:
            err = exc.errors()[0]
            field = str(err["loc"][0])
            if field == "published" and "published" not in row:
                field = "date"  # name the field as the user wrote it
            raise InputError(f"field {field!r}: {err['msg']}", path, number) from None


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
