"""RSS and Atom feed files (feedparser): one document per entry with title, link, author, date and content."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

from spinlens.document import Document
from spinlens.sources.base import Item, Options, check_text, oversized, unexpected
from spinlens.sources.html import fragment_text

_ELEMENT = re.compile(rb"<[A-Za-z]")


def read_feed(path: Path, options: Options) -> Iterator[Item]:
    import feedparser

    if problem := oversized(path, "a feed file"):
        yield Item(str(path), None, problem)
        return
    data = path.read_bytes()
    root = _ELEMENT.search(data)
    if b"<!ENTITY" in data[: root.start() if root else len(data)]:
        # declared before the first element, in the DTD: how "billion laughs" and external-entity attacks begin
        yield Item(
            str(path), None, "the feed declares XML entities (<!ENTITY ...>): refused, as feeds do not need them"
        )
        return
    parsed = feedparser.parse(data)
    if not parsed.entries:
        reason = "no entries"
        if parsed.get("bozo"):
            reason = f"not a readable RSS/Atom feed ({parsed.get('bozo_exception')})"
        yield Item(str(path), None, reason)
        return
    feed_title = parsed.feed.get("title")
    for number, entry in enumerate(parsed.entries, start=1):
        key = entry.get("id") or entry.get("link") or str(number)
        ref = f"{path}#{key}"
        try:
            yield _entry_item(ref, str(key), entry, feed_title, path, options)
        except Exception as exc:  # a hostile entry costs that entry, not the feed
            yield Item(ref, None, unexpected(exc))


def _entry_item(ref: str, key: str, entry, feed_title: str | None, path: Path, options: Options) -> Item:  # type: ignore[no-untyped-def]
    html = _content(entry)
    text = fragment_text(html) if html else ""
    title = fragment_text(entry.get("title", "")) or None
    if title and not text.startswith(title):
        # the headline is part of what readers see (and where name-calling sits); some entries are only that
        text = f"{title}\n\n{text}" if text else title
    if problem := check_text(text, options):
        return Item(ref, None, problem)
    return Item(
        ref,
        Document(
            id=key,
            text=text,
            title=title,
            source=options.outlet_for(feed_title),
            url=entry.get("link"),
            published=_date(entry),
            metadata={"feed": str(path), "author": entry.get("author")},
        ),
    )


def _content(entry) -> str:  # type: ignore[no-untyped-def]
    contents = entry.get("content") or []
    if contents:
        return max((c.get("value", "") for c in contents), key=len)
    return entry.get("summary", "") or entry.get("description", "")


def _date(entry) -> dt.datetime | None:  # type: ignore[no-untyped-def]
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    return dt.datetime(*parsed[:6], tzinfo=dt.UTC)
