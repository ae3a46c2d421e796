"""Sources: turn files, folders, feeds and saved web pages into `Document`s for corpus runs.

Every input yields `Item`s: a stable reference (``path``, ``path:LINE`` for a table row, ``path#ENTRY`` for a
feed entry) and either a document or the reason it could not be read. A bad row or file never stops a corpus;
the reason is recorded and the run goes on. Readers are chosen by file suffix from `READERS`.

>>> from spinlens.sources import iter_items
>>> items = list(iter_items(["corpus/"]))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from spinlens.sources.base import Columns, Item, Options
from spinlens.sources.feeds import read_feed
from spinlens.sources.html import document_from_html, read_html
from spinlens.sources.tables import read_csv, read_jsonl
from spinlens.sources.text import read_txt

Reader = Callable[[Path, Options], Iterator[Item]]

READERS: dict[str, Reader] = {
    ".txt": read_txt,
    ".html": read_html,
    ".htm": read_html,
    ".jsonl": read_jsonl,
    ".ndjson": read_jsonl,
    ".csv": read_csv,
    ".rss": read_feed,
    ".atom": read_feed,
    ".xml": read_feed,
}


def iter_items(inputs: Iterable[str | Path], options: Options | None = None) -> Iterator[Item]:
    """Items from files and folders (walked recursively, in sorted order; files of other types are skipped)."""
    options = options or Options()
    for given in inputs:
        path = Path(given)
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if child.suffix.lower() in READERS and not any(part.startswith(".") for part in child.parts):
                    parts = child.relative_to(path).parts  # corpus/<outlet>/any/depth/file.txt
                    if options.outlet_from_folder and options.outlet is None and len(parts) > 1:
                        yield from _read(child, replace(options, outlet=parts[0]))
                    else:
                        yield from _read(child, options)
        elif path.is_file():
            yield from _read(path, options)
        else:
            yield Item(str(path), None, "no such file or folder")


def _read(path: Path, options: Options) -> Iterator[Item]:
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        known = ", ".join(sorted(READERS))
        yield Item(str(path), None, f"unknown file type {path.suffix or '(none)'!r}; spinlens reads {known}")
        return
    try:
        yield from reader(path, options)
    except OSError as exc:
        yield Item(str(path), None, f"cannot read: {exc.strerror or exc}")


__all__ = ["READERS", "Columns", "Item", "Options", "document_from_html", "iter_items"]
