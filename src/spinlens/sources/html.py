"""Saved web pages (trafilatura: main text, title, author, date, site) and HTML fragments (feed entries)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from spinlens.document import Document
from spinlens.errors import InputError
from spinlens.formats.text import bom_encoding
from spinlens.sources.base import Item, Options, check_text, oversized

_BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "section", "article"}


def document_from_html(html: str | bytes, name: str) -> Document:
    """The main text of a web page and its metadata; InputError (naming ``name``) when there is no article."""
    import trafilatura

    if isinstance(html, bytes) and (encoding := bom_encoding(html[:4])) != "utf-8":
        html = html.decode(encoding, errors="replace")  # UTF-16/32: text, though full of NUL bytes
    if isinstance(html, bytes) and b"\x00" in html[:8192]:
        raise InputError("looks like a binary file (NUL bytes), not HTML", name)
    extracted = trafilatura.extract(html, output_format="json", with_metadata=True, include_comments=False)
    meta = json.loads(extracted) if extracted else {}
    text = meta.get("text") or ""
    if not text.strip():
        raise InputError("no article text found in this HTML page", name)
    return Document(
        id=Path(name).stem or name,
        text=text,
        title=meta.get("title"),
        # trafilatura's JSON names the site "source-hostname" and the page's URL "source"
        source=meta.get("source-hostname") or meta.get("sitename") or meta.get("hostname"),
        url=meta.get("source") or meta.get("url"),
        published=meta.get("date") or None,
        metadata={"file": name, "author": meta.get("author")},
    )


def read_html(path: Path, options: Options) -> Iterator[Item]:
    if problem := oversized(path, "one page"):
        yield Item(str(path), None, problem)
        return
    try:
        doc = document_from_html(path.read_bytes(), str(path))  # bytes: trafilatura reads the page's charset
    except InputError as exc:
        yield Item(str(path), None, exc.reason)
        return
    if problem := check_text(doc.text, options):
        yield Item(str(path), None, problem)
        return
    yield Item(str(path), doc.model_copy(update={"source": options.outlet_for(doc.source)}))


def fragment_text(fragment: str) -> str:
    """Readable text of an HTML fragment: scripts and styles dropped, blocks on their own lines, entities decoded."""
    import lxml.html
    from lxml_html_clean import Cleaner

    if "<" not in fragment:
        return lxml.html.fromstring(f"<p>{fragment}</p>").text_content() if "&" in fragment else fragment
    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    root = Cleaner(scripts=True, javascript=True, style=True, comments=True, forms=False).clean_html(root)
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.lower() in _BLOCKS:
            el.tail = "\n" + (el.tail or "")
    lines = (re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in root.text_content().splitlines())
    return "\n".join(line for line in lines if line)
