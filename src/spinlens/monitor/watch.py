"""`spinlens watch`: poll sources on an interval and analyse what is new or changed into the same store.

Sources are feed URLs (RSS/Atom: fetched with the ETag / Last-Modified of the last answer, so an unchanged feed is
a 304), sitemap URLs (``<urlset>``: pages not seen before, or whose ``<lastmod>`` changed, fetched and extracted;
``<sitemapindex>``: its sitemaps), and files or folders (read again each round). What a round finds is registered by
identity (`spinlens.sources.identity`): an entry already stored is skipped, a changed one becomes a new version.

Resumable and safe under systemd or cron: one watch (or batch) per database at a time (`Store.lock_run`); what a
source answered last is kept in the store (``monitor_sources``, ``monitor_pages``), so a restarted watch asks
conditionally again; SIGTERM stops it cleanly (results committed, exit 0); ``--once`` runs one round, for cron.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import DateTime, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from spinlens.monitor.fetch import FetchError, fetch, is_url
from spinlens.sources import Item, Options, iter_items
from spinlens.sources.base import check_text, one_line
from spinlens.sources.feeds import feed_items
from spinlens.sources.identity import value_key
from spinlens.store import Store
from spinlens.store.schema import Base, DocumentRow, ref_key

MAX_PAGES = 50  # pages fetched from one sitemap in one round (the rest wait for the next round)
MAX_SITEMAPS = 20  # sitemaps followed from one sitemap index


class SourceState(Base):
    """What a watched URL answered last: its validators for the next conditional request, and how it went."""

    __tablename__ = "monitor_sources"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the URL or path
    source: Mapped[str] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    checked: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(200), default="")  # "200: 12 entries", "304 not modified", an error
    rounds: Mapped[int] = mapped_column(Integer, default=0)


class PageState(Base):
    """A page listed by a watched sitemap, with the ``<lastmod>`` it had when it was last fetched."""

    __tablename__ = "monitor_pages"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the page URL
    url: Mapped[str] = mapped_column(Text)
    lastmod: Mapped[str | None] = mapped_column(String(64))


@dataclass
class Polled:
    """One round's reading of one source."""

    source: str
    items: list[Item] = field(default_factory=list)
    status: str = ""
    etag: str | None = None
    last_modified: str | None = None
    pages: dict[str, str | None] = field(default_factory=dict)  # sitemap pages fetched: URL -> lastmod
    failed: bool = False  # the source could not be read this round (its status says why)


def create_tables(store: Store) -> None:
    Base.metadata.create_all(store.engine, tables=[SourceState.__table__, PageState.__table__])  # type: ignore[list-item]


def poll(source: str, store: Store, options: Options) -> Polled:
    """Read ``source`` once: a URL conditionally (see the module's docstring), a file or folder whole."""
    if not is_url(source):
        if not Path(source).exists():
            return Polled(source, status="no such file or folder", failed=True)
        items = list(iter_items([source], options))
        return Polled(source, items, status=f"read: {len(items)} items")
    with Session(store.engine) as s:
        state = s.get(SourceState, ref_key(source))
    try:
        got = fetch(source, state.etag if state else None, state.last_modified if state else None)
    except FetchError as exc:
        return Polled(source, status=one_line(str(exc).removeprefix(f"{source}: "), 200), failed=True)
    if got.status == 304:
        return Polled(source, status="304 not modified", etag=got.etag, last_modified=got.last_modified)
    head = got.body[:4096].lower()
    if b"<urlset" in head or b"<sitemapindex" in head:
        polled = _sitemap(source, got.body, store, options)
    else:
        items = list(feed_items(got.body, source, options))
        # a feed that could not be read this time (cut short, not a feed) is this round's status, not a lasting
        # failure of the URL: the next round asks again
        problems = [it.error for it in items if it.ref == source and it.error]
        items = [it for it in items if it.ref != source]
        status = f"{got.status}: {len(items)} entries" + (f"; {problems[0]}" if problems else "")
        polled = Polled(source, items, status=one_line(status, 200), failed=bool(problems))
        if problems:  # read it whole next time, not as "not modified"
            return polled
    polled.etag, polled.last_modified = got.etag, got.last_modified
    return polled


_LOC = re.compile(rb"<(?:\w+:)?(loc|lastmod)>\s*([^<\s]{1,2048})\s*</", re.IGNORECASE)
_URL_BLOCK = re.compile(rb"<(?:\w+:)?(url|sitemap)[\s>].*?</(?:\w+:)?\1>", re.IGNORECASE | re.DOTALL)


def sitemap_entries(body: bytes) -> tuple[bool, list[tuple[str, str | None]]]:
    """(is it an index, [(loc, lastmod)]) of a sitemap; read with patterns, not an XML parser: no entities, no DTD,
    nothing fetched, whatever the document declares."""
    index = b"<sitemapindex" in body[:4096].lower()
    entries = []
    for block in _URL_BLOCK.finditer(body):
        fields = {
            name.decode().lower(): value.decode("utf-8", "replace") for name, value in _LOC.findall(block.group())
        }
        if "loc" in fields and is_url(fields["loc"].replace("&amp;", "&")):
            entries.append((fields["loc"].replace("&amp;", "&"), fields.get("lastmod")))
    return index, entries


def _sitemap(source: str, body: bytes, store: Store, options: Options, depth: int = 0) -> Polled:
    index, entries = sitemap_entries(body)
    if index:
        polled = Polled(source, status=f"sitemap index: {len(entries)} sitemaps")
        for loc, _ in entries[:MAX_SITEMAPS]:
            if depth > 0:
                break  # an index of indexes is not followed further
            try:
                child = _sitemap(loc, fetch(loc).body, store, options, depth + 1)
            except FetchError as exc:
                polled.items.append(Item(loc, None, one_line(str(exc))))
                continue
            polled.items += child.items
            polled.pages.update(child.pages)
        return polled
    with Session(store.engine) as s:
        keys = {ref_key(loc): (loc, lastmod) for loc, lastmod in entries}
        seen = dict(s.execute(select(PageState.key, PageState.lastmod).where(PageState.key.in_(keys))).all())
    todo = [(loc, lastmod) for k, (loc, lastmod) in keys.items() if k not in seen or (lastmod and seen[k] != lastmod)]
    polled = Polled(source, status=f"sitemap: {len(entries)} pages, {len(todo)} new or changed")
    for loc, lastmod in todo[:MAX_PAGES]:
        polled.items.append(_page(loc, options))
        polled.pages[loc] = lastmod
    if len(todo) > MAX_PAGES:
        polled.status += f" ({MAX_PAGES} fetched this round)"
    return polled


def _page(url: str, options: Options) -> Item:
    from spinlens.errors import InputError
    from spinlens.sources.html import document_from_html

    try:
        got = fetch(url)
        doc = document_from_html(got.body, url)
    except (FetchError, InputError) as exc:
        return Item(url, None, one_line(str(exc)))
    doc = doc.model_copy(update={"id": url, "url": doc.url or url, "source": options.outlet_for(doc.source)})
    if problem := check_text(doc.text, options):
        return Item(url, None, problem)
    return Item(url, doc, None, value_key("url", url))


def remember(store: Store, polled: list[Polled]) -> None:
    """Keep what each source answered (after its items are registered: a crash before this asks again)."""
    now = dt.datetime.now(dt.UTC)
    with Session(store.engine) as s, s.begin():
        for p in polled:
            state = s.get(SourceState, ref_key(p.source)) or SourceState(key=ref_key(p.source), source=p.source)
            if p.etag or p.last_modified or not p.status.startswith("304"):
                state.etag, state.last_modified = p.etag, p.last_modified
            state.checked, state.status, state.rounds = now, p.status[:200], (state.rounds or 0) + 1
            s.merge(state)
            for url, lastmod in p.pages.items():
                s.merge(PageState(key=ref_key(url), url=url, lastmod=lastmod))


@dataclass
class Round:
    number: int
    polled: list[Polled]
    summary: object  # spinlens.scale.batch.Summary
    alerts: list = field(default_factory=list)  # spinlens.monitor.alerts.Alert
    watermark: int = 0  # the last document id before this round


def watch(
    sources: list[str],
    store: Store,
    options: Options | None = None,
    interval: float = 300.0,
    rounds: int | None = None,
    executor: str = "local",
    config=None,  # type: ignore[no-untyped-def]
    on_round: Callable[[Round], None] | None = None,
    rules=None,  # type: ignore[no-untyped-def]
    delivery=None,  # type: ignore[no-untyped-def]
) -> Iterator[Round]:
    """Poll ``sources`` every ``interval`` seconds (``rounds`` times, or until stopped), holding the store's run
    lock throughout; each round registers and analyses what is new or changed, then evaluates the alert ``rules``
    and delivers what they raise. Yields each round (after ``on_round``)."""
    from spinlens.monitor import alerts as al
    from spinlens.scale.batch import holding, run_items, sigterm_after

    options = options or Options()
    create_tables(store)
    al.create_tables(store)
    with holding(store):
        number = 0
        while rounds is None or number < rounds:
            number += 1
            started = time.monotonic()
            watermark = _last_document(store)
            polled = [poll(source, store, options) for source in sources]
            summary = run_items([it for p in polled for it in p.items], store, executor, config)
            with sigterm_after():  # SIGTERM within these transactions takes effect when they are done
                remember(store, polled)
                raised = al.evaluate(store, rules if rules is not None else al.DEFAULT_RULES, watermark)
            if delivery is not None:
                al.deliver(store, delivery)  # each alert's commit defers SIGTERM; its POST does not
            result = Round(number, polled, summary, raised, watermark)
            if on_round:
                on_round(result)
            yield result
            if rounds is not None and number >= rounds:
                break
            time.sleep(max(0.0, interval - (time.monotonic() - started)))


def _last_document(store: Store) -> int:
    from sqlalchemy import func

    with Session(store.engine) as s:
        return s.scalar(select(func.max(DocumentRow.id))) or 0
