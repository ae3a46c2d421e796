"""JSONL and CSV corpora, read row by row (a corpus file may be gigabytes): a bad row is recorded, not fatal."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from spinlens.formats.rows import document_from_row
from spinlens.sources.base import Item, Options, too_long


def read_jsonl(path: Path, options: Options) -> Iterator[Item]:
    with open(path, "rb") as f:
        head = f.read(8192)
        if b"\x00" in head:
            yield Item(str(path), None, "looks like a binary file (NUL bytes), not JSON lines")
            return
        f.seek(0)
        for number, raw in enumerate(f, start=1):
            ref = f"{path}:{number}"
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                yield Item(ref, None, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})")
                continue
            except json.JSONDecodeError as exc:
                yield Item(ref, None, f"invalid JSON ({exc.msg} at column {exc.colno})")
                continue
            if not isinstance(row, dict):
                yield Item(ref, None, f"expected a JSON object, got {type(row).__name__}")
                continue
            yield _item(ref, row, options)


def read_csv(path: Path, options: Options) -> Iterator[Item]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # articles are longer than csv's 128 kB default
    with open(path, "rb") as raw:
        if b"\x00" in raw.read(8192):
            yield Item(str(path), None, "looks like a binary file (NUL bytes), not CSV")
            return
    # surrogateescape: a mis-encoded row becomes one failure instead of ending the file
    with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        if options.columns.text not in header:
            yield Item(str(path), None, f"no column {options.columns.text!r} (columns: {', '.join(header) or 'none'})")
            return
        for row in reader:
            number = reader.line_num  # the physical line where this record ends
            ref = f"{path}:{number}"
            if any(_has_surrogates(v) for v in row.values() if isinstance(v, str)):
                yield Item(ref, None, "not valid UTF-8")
                continue
            yield _item(ref, row, options)


def _item(ref: str, row: dict, options: Options) -> Item:
    try:
        doc = document_from_row(row, options.columns, ref.rsplit("/", 1)[-1], lenient_dates=True)
    except ValueError as exc:
        return Item(ref, None, str(exc))
    problem = too_long(doc.text)
    if problem:
        return Item(ref, None, problem)
    return Item(ref, doc.model_copy(update={"source": options.outlet_for(doc.source)}))


def _has_surrogates(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
