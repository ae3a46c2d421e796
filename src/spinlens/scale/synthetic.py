"""Synthetic corpora for tests, demos and benchmarks: distinct articles made of shuffled sentences.

The sentences are the project's own (the bundled op-ed and plain news-wire sentences written here), so a corpus can
be generated anywhere without licensed data. Each article gets an outlet and a date, so that per-outlet and
per-month statistics have something to show: "loud" outlets draw more sentences from the op-ed, and one outlet
(Morning Ledger) turns loud in July 2024.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Iterator
from pathlib import Path

from spinlens.document import Document

PLAIN = [
    "The city council approved the budget for next year by a vote of seven to two.",
    "Officials said the new bridge would open to traffic in the spring.",
    "The central bank left interest rates unchanged at its meeting on Thursday.",
    "Rainfall in the region was slightly above the average of the last decade.",
    "The ministry published the figures on its website on Monday morning.",
    "Both delegations described the talks as constructive and agreed to meet again.",
    "The company reported a small rise in revenue compared with the same quarter last year.",
    "Researchers at the university collected data from more than two thousand households.",
    "The court adjourned the hearing until the end of the month.",
    "Local schools will close early on Friday because of the national holiday.",
    "A spokesperson declined to comment on the details of the agreement.",
    "Train services between the two cities resumed after repairs to the line.",
    "The report recommends a review of the rules every five years.",
    "Turnout in the regional election was forty-eight percent.",
    "The museum will extend its opening hours during the summer exhibition.",
    "Negotiators said a draft text could be ready within weeks.",
]
OUTLETS = {"Daily Courier": 0.15, "Morning Ledger": 0.35, "Free Voice Today": 0.7, "Patriot Wire": 0.9}
TURNS = {"Morning Ledger": (dt.date(2024, 7, 1), 0.8)}  # from this date on, this outlet draws this often


def _op_ed_sentences() -> list[str]:
    text = (Path(__file__).resolve().parent.parent / "examples" / "op-ed.txt").read_text(encoding="utf-8")
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if len(s.split()) >= 4]


def generate(n: int, seed: int = 0, sentences: int = 8, start: dt.date = dt.date(2024, 1, 1)) -> Iterator[Document]:
    """``n`` distinct articles (a counter in each keeps them apart) with outlet, date and url."""
    rng = random.Random(seed)
    loud = _op_ed_sentences()
    outlets = list(OUTLETS)
    for i in range(n):
        outlet = outlets[i % len(outlets)]
        date = start + dt.timedelta(days=(i * 7) % 365)
        loudness = OUTLETS[outlet]
        if outlet in TURNS and date >= TURNS[outlet][0]:
            loudness = TURNS[outlet][1]
        body = [rng.choice(loud if rng.random() < loudness else PLAIN) for _ in range(sentences)]
        title = f"Report {i}: {rng.choice(PLAIN)[:-1]}"
        yield Document(
            id=f"synthetic-{seed}-{i}",
            text=title + "\n\n" + " ".join(body) + "\n",
            title=title,
            source=outlet,
            url=f"https://example.org/{outlet.lower().replace(' ', '-')}/{i}",
            published=date,
        )


def write_folder(folder: str | Path, n: int, seed: int = 0, sentences: int = 8, html: bool = False) -> Path:
    """A folder of .txt files, one sub-folder per outlet (for ``--outlet-from-folder``); or saved web pages, which
    carry their own site name and date."""
    folder = Path(folder)
    for doc in generate(n, seed, sentences):
        path = folder / str(doc.source) / f"{doc.id}.{'html' if html else 'txt'}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_page(doc) if html else doc.text, encoding="utf-8")
    return folder


def _page(doc: Document) -> str:
    from html import escape

    title, _, body = doc.text.partition("\n\n")
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta property="og:site_name" content="{escape(str(doc.source))}">'
        f'<meta property="og:url" content="{escape(str(doc.url))}">'
        f'<meta property="article:published_time" content="{doc.published}"></head>'
        f"<body><nav>Home | World | Opinion</nav><article><h1>{escape(title)}</h1>"
        f"<p>{escape(body.strip())}</p></article><footer>Contact us</footer></body></html>\n"
    )


def write_jsonl(path: str | Path, n: int, seed: int = 0, sentences: int = 8) -> Path:
    from spinlens.formats.jsonl import write_jsonl as write

    write(generate(n, seed, sentences), path)
    return Path(path)


def write_feed(path: str | Path, n: int, seed: int = 0, sentences: int = 6, title: str = "Wire Service") -> Path:
    """An RSS 2.0 file of ``n`` entries (the outlet is the feed's title)."""
    from email.utils import format_datetime
    from html import escape

    items = []
    for doc in generate(n, seed, sentences):
        head, _, body = doc.text.partition("\n\n")
        published = dt.datetime.combine(doc.published, dt.time(12), tzinfo=dt.UTC)  # type: ignore[arg-type]
        items.append(
            f"<item><title>{escape(head)}</title><link>{escape(str(doc.url))}</link><guid>{escape(doc.id)}</guid>"
            f"<pubDate>{format_datetime(published)}</pubDate>"
            f"<description>{escape('<p>' + escape(body.strip()) + '</p>')}</description></item>"
        )
    Path(path).write_text(
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{escape(title)}</title>'
        + "".join(items)
        + "</channel></rss>\n",
        encoding="utf-8",
    )
    return Path(path)
