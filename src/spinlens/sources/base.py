"""What every reader shares: the item it yields and the options it takes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from spinlens.document import Document
from spinlens.formats.rows import Columns
from spinlens.formats.text import MAX_BYTES

MAX_CHARS = 5_000_000  # one article; a longer "document" is a concatenated corpus or a wrong column


class Item(NamedTuple):
    ref: str
    document: Document | None
    error: str | None = None


@dataclass(frozen=True)
class Options:
    columns: Columns = field(default_factory=Columns)
    outlet: str | None = None  # overrides what the source says
    outlet_from_folder: bool = False  # corpus/<outlet>/article.txt: files in a sub-folder of an input folder

    def outlet_for(self, found: str | None) -> str | None:
        return self.outlet or found or None


def oversized(path: Path, what: str) -> str | None:
    """Why a whole-file input is too big to read, if it is (JSONL and CSV are streamed and have no such limit)."""
    size = path.stat().st_size
    if size > MAX_BYTES:
        return f"file is {size:,} bytes, over the {MAX_BYTES:,}-byte limit for {what}"
    return None


def too_long(text: str) -> str | None:
    if len(text) > MAX_CHARS:
        return f"text has {len(text):,} characters, over the {MAX_CHARS:,}-character limit for one article"
    if not text.strip():
        return "text is empty"
    return None
