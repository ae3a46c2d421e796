"""JSONL and CSV corpora, read row by row (a corpus file may be gigabytes): a bad row is recorded, not fatal.

Files are UTF-8, or UTF-16/32 with a BOM, or (detected, and recorded in each document's metadata) a legacy
encoding such as Latin-1 or Windows-1251. Every row's failure, foreseen or not, is an `Item` naming its line.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
import sys
from collections.abc import Iterator
from itertools import zip_longest
from pathlib import Path
from typing import IO

from spinlens.document import Document
from spinlens.errors import InputError
from spinlens.formats.rows import document_from_row
from spinlens.formats.text import bom_encoding
from spinlens.sources.base import Item, Options, check_text, unexpected
from spinlens.sources.identity import per_outlet, row_key

_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # what errors="surrogateescape" makes of a byte that is not UTF-8


def jsonl_documents(path: str | Path) -> Iterator[Document]:
    """Documents of a JSONL file, strictly: where a corpus run records a bad line and goes on, this stops there
    with an `InputError` naming the file and line (what a caller that needs every line, or none, wants)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path)
    for item in read_jsonl(path, Options()):
        if item.document is None:
            where = item.ref.removeprefix(str(path))
            raise InputError(item.error or "unreadable", path, int(where[1:]) if where[1:].isdigit() else None)
        yield item.document


def read_jsonl(path: Path, options: Options) -> Iterator[Item]:
    opened = _open_rows(path, newline="\n")
    if isinstance(opened, str):
        yield Item(str(path), None, f"{opened}, not JSON lines")
        return
    f, encoding = opened
    limit = options.max_chars * 8 + 65_536  # a row holds one text (escaped: up to 6 characters each) and its fields
    with f:
        number = rows = 0
        while line := f.readline(limit):
            number += 1
            ref = f"{path}:{number}"
            if len(line) == limit and not line.endswith("\n"):
                while (rest := f.readline(limit)) and not rest.endswith("\n"):
                    pass  # skip the rest of the line without holding it
                reason = f"line is over {limit:,} characters: too long for a row whose text has at most"
                yield Item(ref, None, f"{reason} {options.max_chars:,} (--max-chars)")
                continue
            if not line.strip():
                continue
            rows += 1
            try:
                yield from _json_row(ref, line.rstrip("\r\n"), options, encoding)
            except Exception as exc:  # a bug or a hostile line costs that line, not the rest of the file
                yield Item(ref, None, unexpected(exc))
        if not rows:
            yield Item(str(path), None, "no rows: the file is empty")


def read_csv(path: Path, options: Options) -> Iterator[Item]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # articles are longer than csv's 128 kB default
    opened = _open_rows(path, newline="")
    if isinstance(opened, str):
        yield Item(str(path), None, f"{opened}, not CSV")
        return
    f, encoding = opened
    with f:
        reader = csv.reader(f, strict=True)  # strict: an unclosed quote is an error, not a field to the end
        try:
            header = next(reader, [])
        except csv.Error as exc:
            yield Item(str(path), None, f"line {reader.line_num}: not valid CSV ({exc})")
            return
        if options.columns.text not in header:
            shown = ", ".join(header[:10]) + (f", ... ({len(header)} in all)" if len(header) > 10 else "")
            yield Item(str(path), None, f"no column {options.columns.text!r} (columns: {shown or 'none'})")
            return
        end, rows = reader.line_num, 0
        while True:
            start = end + 1
            try:
                fields = next(reader)
            except StopIteration:
                if not rows:
                    yield Item(str(path), None, "no rows below the header")
                return
            except csv.Error as exc:
                end, rows = reader.line_num, rows + 1
                yield Item(f"{path}:{start}", None, _csv_problem(exc, end))
                continue
            except Exception as exc:
                yield Item(f"{path}:{start}", None, unexpected(exc))
                return  # the reader's state is unknown: reading on could misplace every row
            end = reader.line_num  # the physical line where this record ends
            ref = f"{path}:{end}"
            if not fields:
                continue  # a blank line
            rows += 1
            try:
                yield from _csv_row(ref, header, fields, options, encoding)
            except Exception as exc:
                yield Item(ref, None, unexpected(exc))


def _open_rows(path: Path, newline: str) -> tuple[IO[str], str | None] | str:
    """The file as text and the encoding guessed for it (None: UTF-8, or UTF-16/32 with a BOM), or why it is not
    text. A BOM decides the encoding and is dropped; a file whose first megabyte is not UTF-8 and holds no UTF-8
    character at all (a Latin-1 or Windows-1251 export) is read in the encoding charset-normalizer finds there."""
    with open(path, "rb") as raw:
        head = raw.read(1_000_000)
    encoding = bom_encoding(head)
    if encoding != "utf-8":
        return open(path, encoding=encoding[:6], errors="replace", newline=newline), None  # utf-16 / -32: no BOM
    if b"\x00" in head[:8192]:
        return "looks like a binary file (NUL bytes)"
    if (guessed := _legacy_encoding(head)) is not None:
        return open(path, encoding=guessed, errors="replace", newline=newline), guessed
    # surrogateescape: a mis-encoded row becomes one failure instead of ending the file
    return open(path, encoding="utf-8-sig", errors="surrogateescape", newline=newline), None


def _legacy_encoding(head: bytes) -> str | None:
    """The encoding of bytes that are not UTF-8 and have no UTF-8 character in them, if one is found."""
    from spinlens.sources.text import guess_decode

    decoded = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(head)  # a cut last character is fine
    if "\ufffd" not in decoded or any(ord(c) > 127 and c != "\ufffd" for c in decoded):
        return None  # UTF-8, or mostly: its bad rows fail one by one
    guessed = guess_decode(head)
    return guessed[1] if guessed else None


def _json_row(ref: str, line: str, options: Options, encoding: str | None = None) -> list[Item]:
    if bad := _ESCAPED_BYTE.search(line):
        return [Item(ref, None, f"not valid UTF-8 (byte 0x{ord(bad.group()) - 0xDC00:02x})")]
    try:
        row = json.loads(line)
    except RecursionError:
        return [Item(ref, None, "invalid JSON (nested too deeply to read)")]
    except json.JSONDecodeError as exc:
        # some messages end in "at" ("Unterminated string starting at"): say it once
        return [Item(ref, None, f"invalid JSON ({exc.msg.removesuffix(' at')} at column {exc.colno})")]
    if not isinstance(row, dict):
        return [Item(ref, None, f"expected a JSON object, got {type(row).__name__}")]
    return _items(ref, row, options, encoding)


def _csv_row(ref: str, header: list[str], fields: list[str], options: Options, encoding: str | None) -> list[Item]:
    if len(fields) > len(header):
        return [Item(ref, None, f"{len(fields)} fields, header has {len(header)}")]
    if any(_ESCAPED_BYTE.search(v) for v in fields):
        return [Item(ref, None, "not valid UTF-8")]
    return _items(ref, dict(zip_longest(header, fields)), options, encoding)


def _csv_problem(exc: csv.Error, end: int) -> str:
    if "unexpected end of data" in str(exc):
        return f"unclosed quote: the field quoted on this line runs to the end of the file (line {end}); truncated CSV?"
    return f"not valid CSV ({exc})"


def _items(ref: str, row: dict, options: Options, encoding: str | None = None) -> list[Item]:  # type: ignore[type-arg]
    """The row's document (one per outlet when its source names several: ``A+B``), keyed by its identity; a file
    read in a guessed ``encoding`` says so in each document's metadata."""
    try:
        doc = document_from_row(row, options.columns, ref.rsplit("/", 1)[-1], lenient_dates=True)
    except ValueError as exc:
        return [Item(ref, None, str(exc))]
    if problem := check_text(doc.text, options):
        return [Item(ref, None, problem)]
    update: dict = {"source": options.outlet_for(doc.source)}  # type: ignore[type-arg]
    if encoding:
        update["metadata"] = {**doc.metadata, "encoding": encoding}
    doc = doc.model_copy(update=update)
    key = row_key(row, doc, options.id_field)
    return [Item(ref, d, None, k) for d, k in per_outlet(doc, key)]
