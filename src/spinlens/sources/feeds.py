"""RSS and Atom feeds (feedparser), from files or downloads: one document per entry with title, link, author, date
and content."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

from spinlens.document import Document
from spinlens.sources.base import Item, Options, check_text, oversized, unexpected
from spinlens.sources.html import fragment_text
from spinlens.sources.identity import entry_key

_ELEMENT = re.compile(rb"<[A-Za-z]")


def read_feed(path: Path, options: Options) -> Iterator[Item]:
    if problem := oversized(path, "a feed file"):
        yield Item(str(path), None, problem)
        return
    yield from feed_items(path.read_bytes(), str(path), options)


def feed_items(data: bytes, origin: str, options: Options) -> Iterator[Item]:
    """The entries of a feed's bytes (a file's or a download's), named ``origin#KEY``; each keyed by its GUID or
    link (`identity.entry_key`), so the same entry in two snapshots of the feed is one item.

    A feed cut short (a download that broke off) yields the entries before the break and one failure saying so.
    """
    import feedparser

    root = _ELEMENT.search(data)
    if b"<!ENTITY" in data[: root.start() if root else len(data)]:
        # declared before the first element, in the DTD: how "billion laughs" and external-entity attacks begin
        yield Item(origin, None, "the feed declares XML entities (<!ENTITY ...>): refused, as feeds do not need them")
        return
    parsed = feedparser.parse(data)
    broken = _broken(parsed)
    if not parsed.entries:
        reason = "no entries"
        if broken:
            reason = f"not a readable RSS/Atom feed: {broken}"
        yield Item(origin, None, reason)
        return
    feed_title = parsed.feed.get("title")
    last = len(parsed.entries)
    for number, entry in enumerate(parsed.entries, start=1):
        ref = f"{origin}#{entry.get('id') or entry.get('link') or number}"
        try:
            item = _entry_item(ref, entry, feed_title, origin, options)
        except Exception as exc:  # a hostile entry costs that entry, not the feed
            item = Item(ref, None, unexpected(exc))
        if broken and number == last and item.document is not None:
            # the entry the break cut: its text may be only a part of it; analysing that would be a wrong answer
            item = Item(ref, None, f"{broken}: the last entry read may be cut short")
        elif broken and item.error:
            item = item._replace(error=f"{broken}: {item.error}")
        yield item
    if broken:
        yield Item(origin, None, f"{broken}; {last - 1} entries read before the break")


def _entry_item(ref: str, entry, feed_title: str | None, origin: str, options: Options) -> Item:  # type: ignore[no-untyped-def]
    html = _content(entry)
    text = fragment_text(html) if html else ""
    title = fragment_text(entry.get("title", "")) or None
    if title and not text.startswith(title):
        # the headline is part of what readers see (and where name-calling sits); some entries are only that
        text = f"{title}\n\n{text}" if text else title
    if problem := check_text(text, options):
        return Item(ref, None, problem)
    doc = Document(
        id=str(entry.get("id") or entry.get("link") or ref.rsplit("#", 1)[-1]),
        text=text,
        title=title,
        source=options.outlet_for(feed_title),
        url=entry.get("link"),
        published=_date(entry),
        metadata={"feed": origin, "author": entry.get("author")},
    )
    return Item(ref, doc, None, entry_key(entry.get("id"), entry.get("link"), doc))


def _broken(parsed) -> str | None:  # type: ignore[no-untyped-def]
    """Why the feed's XML is broken (cut short, or not well-formed), if it is; feedparser's notes about a declared
    encoding or a content type that it overrode are not breaks."""
    from feedparser.exceptions import CharacterEncodingOverride, NonXMLContentType

    exc = parsed.get("bozo_exception")
    if not parsed.get("bozo") or isinstance(exc, (CharacterEncodingOverride, NonXMLContentType)):
        return None
    return f"feed is truncated or malformed ({exc})"


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
