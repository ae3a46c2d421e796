"""Plain-text files: one file, one document (the rules of `formats.text.read_text`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from spinlens.errors import InputError
from spinlens.formats.text import read_text
from spinlens.sources.base import Item, Options


def read_txt(path: Path, options: Options) -> Iterator[Item]:
    try:
        doc = read_text(path)
    except InputError as exc:
        yield Item(str(path), None, exc.reason)
        return
    yield Item(str(path), doc.model_copy(update={"source": options.outlet_for(None)}))
