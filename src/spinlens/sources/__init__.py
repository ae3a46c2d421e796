"""Sources: turn files, folders, feeds and saved web pages into `Document`s for corpus runs.

Every input yields `Item`s: where it was read (``path``, ``path:LINE`` for a table row, ``path#ENTRY`` for a
feed entry), what it is (its identity: `spinlens.sources.identity`) and either a document or the reason it could
not be read. A bad row or file never stops a corpus; the reason is recorded and the run goes on. Readers are chosen
by file suffix from `READERS`; files a folder walk passes over are counted by reason (`Skipped`).

>>> from spinlens.sources import iter_items
>>> items = list(iter_items(["corpus/"]))  # doctest: +SKIP
"""

from __future__ import annotations

import errno
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from spinlens.sources.base import MAX_CHARS, Columns, Item, Options, one_line, unexpected, why_not_text
from spinlens.sources.feeds import read_feed
from spinlens.sources.html import document_from_html, read_html
from spinlens.sources.identity import file_key
from spinlens.sources.tables import jsonl_documents, read_csv, read_jsonl
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


Skipped = Counter  # files a folder walk passed over, by reason ("hidden file", "unknown extension .pdf", ...)


def iter_items(
    inputs: Iterable[str | Path], options: Options | None = None, skipped: Skipped[str] | None = None
) -> Iterator[Item]:
    """Items from files and folders (walked recursively, in sorted order; files of other types are skipped).

    Hidden files and folders below a folder given are skipped; a folder given may itself be anywhere. What is
    skipped is counted in ``skipped`` by reason, when it is given.
    """
    options = options or Options()
    skipped = skipped if skipped is not None else Counter()
    for given in inputs:
        path = Path(given)
        if path.is_dir():
            yield from _read_folder(path, options, skipped)
        elif path.is_file():
            yield from _read(path, options)
        else:
            yield Item(str(path), None, _link_problem(path) or "no such file or folder")


def _read_folder(folder: Path, options: Options, skipped: Skipped[str]) -> Iterator[Item]:
    found: list[tuple[Path, str | None]] = []  # (path, why it cannot be read)

    def unreadable(exc: OSError) -> None:
        found.append((Path(exc.filename), f"cannot read folder: {exc.strerror or exc}"))

    for root, dirs, files in os.walk(folder, onerror=unreadable):  # symbolic links to folders are not followed
        skipped["hidden folder (not read)"] += sum(d.startswith(".") for d in dirs)
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            child = Path(root, name)
            if name.startswith("."):
                skipped["hidden file"] += 1
            elif child.suffix.lower() not in READERS:
                skipped[f"unknown extension {child.suffix.lower() or '(none)'}"] += 1
            else:
                found.append((child, _link_problem(child)))
    if not found:
        others = ", ".join(sorted(set(READERS) - {".txt"}))
        yield Item(str(folder), None, f"no input files in this folder: no *.txt articles, nor {others}")
    for child, problem in sorted(found):
        if problem:
            yield Item(str(child), None, problem)
            continue
        parts = child.relative_to(folder).parts  # corpus/<outlet>/any/depth/file.txt
        if options.outlet_from_folder and len(parts) > 1:  # what the file itself says wins (`Options.outlet_for`)
            yield from _read(child, replace(options, folder_outlet=parts[0]))
        else:
            yield from _read(child, options)


def _link_problem(path: Path) -> str | None:
    """Why a symbolic link cannot be followed, if it is one and cannot be."""
    if not path.is_symlink():
        return None
    try:
        path.resolve(strict=True)
    except RuntimeError:  # Python < 3.13 says "Symlink loop" this way
        return "symbolic link loop"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        return one_line(f"broken symbolic link (to {os.readlink(path)})")
    return None


def _read(path: Path, options: Options) -> Iterator[Item]:
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        known = ", ".join(sorted(READERS))
        yield Item(str(path), None, f"unknown file type {path.suffix or '(none)'!r}; spinlens reads {known}")
        return
    try:
        for item in reader(path, options):
            if item.error is not None:
                yield item._replace(error=one_line(item.error))
            else:  # a page or a text file is the file; rows and entries say what they are themselves
                yield item if item.key else item._replace(key=file_key(path))
    except OSError as exc:
        yield Item(str(path), None, f"cannot read: {exc.strerror or exc}")
    except Exception as exc:  # whatever a hostile file does to a reader costs that file, not the run
        yield Item(str(path), None, unexpected(exc))


def read_upload(name: str, data: bytes, options: Options | None = None) -> list[Item]:
    """Items from the bytes of one uploaded file, read by the reader its name's suffix picks (a page sniffed as
    HTML, anything else unknown as text): the same readers, limits and failures as files on disk, named ``name``."""
    import tempfile

    options = options or Options()
    base = Path(name).name or "upload"
    suffix = Path(base).suffix.lower()
    if suffix not in READERS:
        head = data[:512].lstrip().lower()
        suffix = ".html" if head.startswith((b"<!doctype html", b"<html")) else ".txt"
    with tempfile.TemporaryDirectory(prefix="spinlens-upload-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(data)
        items = list(_read(path, options))
    return [item._replace(ref=item.ref.replace(str(path), base), key=None) for item in items]


__all__ = [
    "MAX_CHARS",
    "READERS",
    "Columns",
    "Item",
    "Options",
    "Skipped",
    "document_from_html",
    "iter_items",
    "jsonl_documents",
    "read_upload",
    "why_not_text",
]
