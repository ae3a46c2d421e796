"""Plain-text files: one file, one document (UTF-8, or UTF-16/32 with a BOM; `article123.txt` has the id ``123``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from spinlens.document import Document
from spinlens.errors import InputError
from spinlens.formats.text import article_id, decode
from spinlens.sources.base import Item, Options, check_text


def read_txt(path: Path, options: Options) -> Iterator[Item]:
    with open(path, "rb") as f:
        yield stream_item(f, str(path), article_id(path), options, {"path": str(path)})


def stream_item(f: BinaryIO, ref: str, doc_id: str, options: Options, metadata: dict | None = None) -> Item:  # type: ignore[type-arg]
    """The document in an open file or standard input, read no further than the character limit can need."""
    limit = options.max_chars * 4 + 4  # bytes: no encoding spends more than 4 a character, plus a BOM
    data = f.read(limit + 1)  # a 20 MB file is refused without reading it whole
    if len(data) > limit:
        reason = f"more than {limit:,} bytes, so over the limit of {options.max_chars:,} characters (--max-chars)"
        return Item(ref, None, reason)
    return text_item(data, ref, doc_id, options, metadata)


def text_item(data: bytes, ref: str, doc_id: str, options: Options, metadata: dict | None = None) -> Item:  # type: ignore[type-arg]
    """The document in ``data`` (a text file's bytes, or standard input), or why it is not one."""
    try:
        text = decode(data, ref)
    except InputError as exc:
        return Item(ref, None, exc.reason)
    if not text.strip():
        return Item(ref, None, "file is empty")
    if problem := check_text(text, options):
        return Item(ref, None, problem)
    return Item(ref, Document(id=doc_id, text=text, source=options.outlet_for(None), metadata=metadata or {}))
