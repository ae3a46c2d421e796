"""Corpus inputs: every reader on files made here, including the broken ones a real corpus contains."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from spinlens.formats.rows import Columns
from spinlens.sources import Options, iter_items

RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>Feed Outlet</title>
<item><title>Big &amp; scary</title><link>http://x.test/1</link><guid>g1</guid>
<pubDate>Mon, 06 Sep 2021 16:45:00 +0000</pubDate><author>a@x.test (Ann)</author>
<description>&lt;p&gt;Para one.&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;p&gt;Para &lt;b&gt;two&lt;/b&gt;.&lt;/p&gt;</description></item>
<item><title>Headline only</title><guid>g2</guid></item>
<item><guid>g3</guid></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Atom Times</title>
<entry><id>urn:1</id><title>First</title><updated>2022-02-03T10:00:00Z</updated><link href="http://a.test/1"/>
<content type="html">&lt;p&gt;Atom body text.&lt;/p&gt;</content></entry></feed>"""

PAGE = """<!doctype html><html><head><title>Page title &lt;script&gt;</title>
<meta property="og:site_name" content="Site Name"><meta property="og:url" content="https://news.test/a"><meta name="date" content="2020-05-06"></head>
<body><nav>Home | About</nav><article><h1>Headline here</h1>
<p>The first paragraph of the article is long enough to be kept by the extractor as main text of the page.</p>
<p>A second paragraph follows, with <b>bold</b> words and an <script>alert('x')</script> inline script.</p>
</article><footer>Copyright</footer></body></html>"""


def _by_ref(items):
    return {Path(it.ref).name if "/" in it.ref else it.ref: it for it in items}


def test_folder_of_mixed_files(tmp_path: Path) -> None:
    (tmp_path / "outlet-a").mkdir()
    (tmp_path / "outlet-a" / "2024").mkdir()
    (tmp_path / "outlet-a" / "2024" / "deep.txt").write_text("Deeper.", encoding="utf-8")
    (tmp_path / "outlet-a" / "one.txt").write_text("\ufeffFirst article.\r\nSecond line.\n", encoding="utf-8")
    (tmp_path / "outlet-a" / "empty.txt").write_text("  \n", encoding="utf-8")
    (tmp_path / "outlet-a" / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "outlet-a" / "image.txt").write_bytes(b"\x89PNG\x00\x00\x00")
    (tmp_path / "notes.md").write_text("not an input type", encoding="utf-8")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.txt").write_text("skipped", encoding="utf-8")
    (tmp_path / "feed.rss").write_text(RSS, encoding="utf-8")
    (tmp_path / "atom.xml").write_text(ATOM, encoding="utf-8")
    (tmp_path / "page.html").write_text(PAGE, encoding="utf-8")

    items = list(iter_items([tmp_path], Options(outlet_from_folder=True)))
    by_ref = {it.ref.replace(str(tmp_path) + "/", ""): it for it in items}
    assert "notes.md" not in by_ref and not any(".hidden" in r for r in by_ref)

    one = by_ref["outlet-a/one.txt"].document
    assert one.text == "\ufeffFirst article.\r\nSecond line.\n"  # untouched: offsets point into it
    assert one.source == "outlet-a" and by_ref["outlet-a/2024/deep.txt"].document.source == "outlet-a"
    assert by_ref["outlet-a/empty.txt"].error == "file is empty"
    assert "not valid UTF-8 (byte 0xe9" in by_ref["outlet-a/latin1.txt"].error
    assert "binary" in by_ref["outlet-a/image.txt"].error

    g1 = by_ref["feed.rss#g1"].document
    assert g1.text == "Big & scary\n\nPara one.\nPara two."  # the script is gone, entities decoded
    assert g1.title == "Big & scary" and g1.url == "http://x.test/1"
    assert g1.published == dt.datetime(2021, 9, 6, 16, 45, tzinfo=dt.UTC)
    assert by_ref["feed.rss#g2"].document.text == "Headline only"
    assert by_ref["feed.rss#g3"].error == "text is empty"

    atom = by_ref["atom.xml#urn:1"].document
    assert atom.text == "First\n\nAtom body text." and atom.published.year == 2022

    page = by_ref["page.html"].document
    assert "first paragraph of the article" in page.text and "alert" not in page.text
    assert "Home | About" not in page.text
    assert page.source == "Site Name"  # at the top of the input folder: no outlet folder, the page's own site
    assert g1.source == "Feed Outlet"
    (alone,) = iter_items([tmp_path / "page.html"])
    assert alone.document.title == "Headline here"
    assert alone.document.url == "https://news.test/a" and alone.document.published == dt.date(2020, 5, 6)


def test_tables_with_mapped_columns_and_bad_rows(tmp_path: Path) -> None:
    long_text = "word " * 40_000  # 200 kB: over the csv module's default field limit
    csv_path = tmp_path / "c.csv"
    csv_path.write_text(
        "key,body,paper,when\n"
        '1,"A first, quoted\ntwo-line text",Daily,2024-03-01\n'
        "2,,Daily,2024-03-02\n"
        '3,Third text,Weekly,"Tue, 05 Mar 2024 08:00:00 GMT"\n'
        "4,Fourth text,Weekly,sometime in spring\n"
        f"5,{long_text},Weekly,2024-03-09\n",
        encoding="utf-8",
    )
    cols = Columns(text="body", id="key", source="paper", date="when")
    items = {it.ref.rsplit("/", 1)[-1]: it for it in iter_items([csv_path], Options(columns=cols))}
    assert items["c.csv:3"].document.text == "A first, quoted\ntwo-line text"
    assert items["c.csv:3"].document.published == dt.date(2024, 3, 1)
    assert items["c.csv:4"].error == "field 'body' is missing or empty"
    assert items["c.csv:5"].document.published == dt.datetime(2024, 3, 5, 8, 0, tzinfo=dt.UTC)
    fourth = items["c.csv:6"].document  # an unreadable date does not cost the article
    assert fourth.published is None and fourth.metadata["unparsed_date"] == "sometime in spring"
    assert len(items["c.csv:7"].document.text) == len(long_text)

    missing = list(iter_items([csv_path]))  # default columns: there is no 'text' column
    assert len(missing) == 1 and "no column 'text' (columns: key, body, paper, when)" in missing[0].error

    jsonl = tmp_path / "d.jsonl"
    jsonl.write_bytes(
        json.dumps({"text": "ok one", "source": "J", "date": "2023-01-05"}).encode() + b"\n"
        b"[1]\n{bad\n\n" + '{"text": "caf\xe9"}'.encode("latin-1") + b"\n" + b'{"title": "no text"}\n'
    )
    rows = {it.ref.rsplit("/", 1)[-1]: it for it in iter_items([jsonl])}
    assert rows["d.jsonl:1"].document.source == "J"
    assert rows["d.jsonl:2"].error == "expected a JSON object, got list"
    assert rows["d.jsonl:3"].error.startswith("invalid JSON")
    assert rows["d.jsonl:5"].error.startswith("not valid UTF-8")
    assert rows["d.jsonl:6"].error == "field 'text' is missing or empty"
    assert "d.jsonl:4" not in rows  # a blank line is not a document


def test_missing_and_unknown_inputs(tmp_path: Path) -> None:
    (tmp_path / "x.pdf").write_bytes(b"%PDF")
    items = list(iter_items([tmp_path / "nope", tmp_path / "x.pdf"], Options(outlet="Given")))
    assert items[0].error == "no such file or folder"
    assert "unknown file type '.pdf'" in items[1].error
