"""Plain-text files: one file, one document (`article123.txt` has the id ``123``).

UTF-8, or UTF-16/32 with a BOM; a file in neither (a Latin-1 or Windows-1251 export) is decoded in the encoding that
charset-normalizer finds, recorded in the document's ``metadata["encoding"]`` so that a reader can check it.
"""

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
    metadata = dict(metadata or {})
    try:
        text = decode(data, ref)
    except InputError as exc:
        guessed = guess_decode(data) if exc.reason.startswith("not valid UTF-8") else None
        if guessed is None:
            return Item(ref, None, exc.reason)
        text, metadata["encoding"] = guessed
    if not text.strip():
        return Item(ref, None, "file is empty")
    if problem := check_text(text, options):
        return Item(ref, None, problem)
    return Item(ref, Document(id=doc_id, text=text, source=options.outlet_for(None), metadata=metadata))


PREFERRED = ("cp1252", "cp1251")  # among encodings that read a text equally well: Western, then Cyrillic, news


def guess_decode(data: bytes) -> tuple[str, str] | None:
    """(text, encoding) of bytes that are not UTF-8, in the encoding charset-normalizer finds least chaotic (of
    equally good ones, the most common legacy encoding of news: Windows-1252, then -1251); None when none reads them.
    """
    from charset_normalizer import from_bytes

    results = [r for r in from_bytes(data) if r.encoding not in ("utf_8", "ascii")]
    if not results:
        return None
    least = min(r.chaos for r in results)
    candidates = {e for r in results if r.chaos == least for e in r.could_be_from_charset}
    best = next(r.encoding for r in results if r.chaos == least)
    encoding = next((e for e in PREFERRED if e in candidates), best)
    try:
        return data.decode(encoding), encoding
    except (UnicodeDecodeError, LookupError):
        return None
