"""What every reader shares: the item it yields, the options it takes and the checks every document passes."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from spinlens.document import Document
from spinlens.formats.rows import Columns
from spinlens.formats.text import MAX_BYTES

MAX_CHARS = 200_000  # one document, for every source and command (the web server's limit too)


class Item(NamedTuple):
    """One input: ``ref`` says where it is (for people: ``file.csv:12``), ``key`` what it is (its identity, see
    `spinlens.sources.identity`: the same item read again, from another file or line, has the same key)."""

    ref: str
    document: Document | None
    error: str | None = None
    key: str | None = None

    @property
    def identity(self) -> str:
        return self.key or self.ref


@dataclass(frozen=True)
class Options:
    columns: Columns = field(default_factory=Columns)
    outlet: str | None = None  # overrides what the source says
    outlet_from_folder: bool = False  # corpus/<outlet>/article.txt: files in a sub-folder of an input folder
    max_chars: int = MAX_CHARS  # a longer document is a recorded failure
    id_field: str | None = None  # the row field that identifies a row (None: id, url or guid, the first it has)
    folder_outlet: str | None = None  # the sub-folder's name (set while reading it): what a row or page does not say

    def outlet_for(self, found: str | None) -> str | None:
        """--outlet, else what the input says (a row's source column, a feed's title), else the folder's name."""
        return self.outlet or found or self.folder_outlet or None


def oversized(path: Path, what: str) -> str | None:
    """Why a whole-file input (a page, a feed) is too big to read, if it is."""
    size = path.stat().st_size
    if size > MAX_BYTES:
        return f"file is {size:,} bytes, over the {MAX_BYTES:,}-byte limit for {what}"
    return None


def too_long(text: str, max_chars: int = MAX_CHARS) -> str | None:
    if len(text) > max_chars:
        return f"text has {len(text):,} characters, over the limit of {max_chars:,} (--max-chars)"
    return None


def one_line(message: str, most: int = 500) -> str:
    """A reason fit for a terminal, a log line and a database: one line, printable UTF-8, at most ``most`` long."""
    message = " ".join(message.split()).encode("utf-8", "backslashreplace").decode("utf-8")
    return message if len(message) <= most else message[: most - 1] + "…"


def unexpected(exc: BaseException) -> str:
    """One line for an error no reader foresaw (a hostile input or a bug), with its type for a bug report."""
    return one_line(f"could not be read ({type(exc).__name__}: {exc})")


def check_text(text: str, options: Options) -> str | None:
    """Why a document's text is not analysed, if it is not: over the limit, or not text at all."""
    return too_long(text, options.max_chars) or why_not_text(text)


_LETTER = re.compile(r"[^\W\d_]")
_MARKUP = re.compile(r"</?[A-Za-z][^<>]{0,2000}>|&#?\w{1,32};")


def why_not_text(text: str) -> str | None:
    """Why ``text`` is junk rather than something people read, if it is: empty, no words, one character, markup."""
    if not text.strip():
        return "text is empty"
    if not _LETTER.search(text):
        return "text has no words (no letters at all)"
    visible = len("".join(text.split()))  # characters other than white space
    sample = text[:: max(1, len(text) // 10_000)]  # spread over the text: a run of junk anywhere shows
    common = Counter(c for c in sample if not c.isspace()).most_common(1)
    if visible >= 20 and common and (count := text.count(common[0][0])) > visible / 2:
        return f"not text: one character ({common[0][0]!r}) is {count / visible:.0%} of it"
    tags = _MARKUP.findall(text)  # a few tags are a quoted snippet; dozens are a page that was not extracted
    markup = sum(len(m) for m in tags)
    if len(tags) >= 10 and markup > visible / 2:
        return f"text is mostly markup ({markup / len(text):.0%} HTML/XML tags or entities); save a web page as .html"
    return None
