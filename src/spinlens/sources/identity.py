"""What an input *is*, as opposed to where it was read: the key that makes re-reading a source safe.

A re-downloaded export lists its rows in another order, a feed saved twice holds the same entries under two file
names, and an article is edited in place. The store keys documents by these identities (`Item.key`), so that each
item is counted once, a new one is analysed and a changed one becomes a new version:

- a table row: its id field (``--id-field``; else the first of ``id``, ``url``, ``guid`` it has), as
  ``id=123`` or ``url=https://...`` (any id that is a web address is a ``url=``, so a feed entry and an export row
  of one article agree). Ids are one namespace per database: keep sources whose numeric ids clash apart
  (``--id-field``, or another database).
- a feed entry: its GUID (``guid=...``, or ``url=`` when the GUID is its permalink), else its link.
- a file (a text or a saved page): its absolute path, ``file:/corpus/a.txt``.
- anything with none of these: its text and outlet, ``text:OUTLET:SHA256``; the same text from two outlets is two
  items (syndication is kept, and linked as a duplicate in the store).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spinlens.document import Document

ID_FIELDS = ("id", "url", "guid")  # looked for, in this order, when no --id-field is given
_WEB = re.compile(r"^https?://", re.IGNORECASE)
_SEPARATOR = re.compile(r"\s*\+\s*")  # "RT + Sputnik + TASS": one article credited to several outlets


def file_key(path: str | Path) -> str:
    return f"file:{os.path.abspath(path)}"


def text_key(doc: Document) -> str:
    return f"text:{doc.source or ''}:{doc.fingerprint}"


def value_key(name: str, value: Any) -> str | None:
    """``name=value`` for an id value, ``url=value`` when it is a web address; None when it is empty."""
    if value is None or isinstance(value, (dict, list)):
        return None
    value = " ".join(str(value).split())
    if not value:
        return None
    return f"url={value}" if _WEB.match(value) else f"{name}={value}"


def row_key(row: Mapping[str, Any], doc: Document, id_field: str | None = None) -> str:
    """A table row's identity: its id field, else its text (see the module's docstring)."""
    for name in (id_field,) if id_field else ID_FIELDS:
        if key := value_key(name, row.get(name)):
            return key
    return text_key(doc)


def entry_key(guid: str | None, link: str | None, doc: Document) -> str:
    """A feed entry's identity: its GUID, else its link, else its text."""
    return value_key("guid", guid) or value_key("url", link) or text_key(doc)


def split_outlets(source: str | None) -> list[str]:
    """The outlets of a multi-valued source (``A+B+C``), or [] when it names one (``Canal+`` is one outlet)."""
    if not source or "+" not in source:
        return []
    parts = _SEPARATOR.split(source.strip())
    return parts if len(parts) > 1 and all(parts) else []


def per_outlet(doc: Document, key: str) -> list[tuple[Document, str]]:
    """One (document, key) per outlet of a multi-valued source: the same text credited to each outlet, as the store
    keeps syndicated copies (counted for each outlet, analysed once). A single outlet: the document as it is."""
    outlets = split_outlets(doc.source)
    if not outlets:
        return [(doc, key)]
    meta = {**doc.metadata, "outlets": outlets}
    return [(doc.model_copy(update={"source": o, "metadata": meta}), f"{key}@{o}") for o in dict.fromkeys(outlets)]
