"""Corpus inputs: every reader on files made here, including the broken ones a real corpus contains."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest

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

    skipped: Counter[str] = Counter()
    items = list(iter_items([tmp_path], Options(outlet_from_folder=True), skipped))
    by_ref = {it.ref.replace(str(tmp_path) + "/", ""): it for it in items}
    assert "notes.md" not in by_ref and not any(".hidden" in r for r in by_ref)
    assert skipped == {"unknown extension .md": 1, "hidden folder (not read)": 1}  # counted, not dropped in silence

    one = by_ref["outlet-a/one.txt"].document
    assert one.text == "\ufeffFirst article.\r\nSecond line.\n"  # untouched: offsets point into it
    assert one.source == "outlet-a" and by_ref["outlet-a/2024/deep.txt"].document.source == "outlet-a"
    assert by_ref["outlet-a/empty.txt"].error == "file is empty"
    latin1 = by_ref["outlet-a/latin1.txt"].document  # not UTF-8: decoded as detected, and the guess recorded
    assert latin1.text == "café" and latin1.metadata["encoding"] == "cp1252"
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
        json.dumps({"text": "ok \u00f6ne", "source": "J", "date": "2023-01-05"}, ensure_ascii=False).encode() + b"\n"
        b"[1]\n{bad\n\n" + '{"text": "caf\xe9"}'.encode("latin-1") + b"\n" + b'{"title": "no text"}\n'
    )
    rows = {it.ref.rsplit("/", 1)[-1]: it for it in iter_items([jsonl])}
    assert rows["d.jsonl:1"].document.source == "J" and rows["d.jsonl:1"].document.text == "ok \u00f6ne"
    assert rows["d.jsonl:2"].error == "expected a JSON object, got list"
    assert rows["d.jsonl:3"].error.startswith("invalid JSON")
    assert rows["d.jsonl:5"].error.startswith("not valid UTF-8")
    assert rows["d.jsonl:6"].error == "field 'text' is missing or empty"
    assert "d.jsonl:4" not in rows  # a blank line is not a document

    latin1 = tmp_path / "e.csv"  # a whole export in Latin-1 (no UTF-8 in it at all): read in the detected encoding
    latin1.write_bytes(
        'id,text\n1,"Caf\xe9 cr\xe8me \xe0 la fran\xe7aise, d\xe9cid\xe9 par le minist\xe8re."\n'.encode("latin-1")
    )
    (row,) = iter_items([latin1])
    assert row.document.text == "Caf\xe9 cr\xe8me \xe0 la fran\xe7aise, d\xe9cid\xe9 par le minist\xe8re."
    assert row.document.metadata["encoding"] == "cp1252"


def test_missing_and_unknown_inputs(tmp_path: Path) -> None:
    (tmp_path / "x.pdf").write_bytes(b"%PDF")
    items = list(iter_items([tmp_path / "nope", tmp_path / "x.pdf"], Options(outlet="Given")))
    assert items[0].error == "no such file or folder"
    assert "unknown file type '.pdf'" in items[1].error


# --- issue 12: no input stops a run ------------------------------------------------------------------------------


def _refs(items, root: Path) -> dict:
    return {it.ref.replace(str(root) + "/", ""): it for it in items}


def test_jsonl_line_nested_100000_deep_is_a_recorded_failure_not_a_recursion_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_text('{"text": "Before."}\n' + "[" * 100_000 + "]" * 100_000 + '\n{"text": "After."}\n')
    items = _refs(iter_items([path]), tmp_path)
    assert items["deep.jsonl:1"].document.text == "Before."
    assert items["deep.jsonl:2"].document is None and "nested too deeply" in items["deep.jsonl:2"].error
    assert items["deep.jsonl:3"].document.text == "After."


def test_any_reader_exception_becomes_a_recorded_failure_and_the_next_file_is_read(tmp_path: Path, monkeypatch) -> None:
    from spinlens import sources

    def broken(path, options):
        raise ZeroDivisionError("reader bug")

    monkeypatch.setitem(sources.READERS, ".html", broken)
    (tmp_path / "a.html").write_text(PAGE, encoding="utf-8")
    (tmp_path / "b.txt").write_text("The next file is read.", encoding="utf-8")
    items = _refs(iter_items([tmp_path]), tmp_path)
    assert items["a.html"].document is None and "ZeroDivisionError: reader bug" in items["a.html"].error
    assert items["b.txt"].document.text == "The next file is read."


def test_any_row_exception_becomes_a_recorded_failure_naming_the_line(tmp_path: Path, monkeypatch) -> None:
    from spinlens.sources import tables

    real = tables.document_from_row

    def flaky(row, *args, **kwargs):
        if row.get("text") == "boom":
            raise KeyError("unexpected")
        return real(row, *args, **kwargs)

    monkeypatch.setattr(tables, "document_from_row", flaky)
    path = tmp_path / "r.jsonl"
    path.write_text('{"text": "boom"}\n{"text": "Fine row."}\n')
    items = _refs(iter_items([path]), tmp_path)
    assert items["r.jsonl:1"].document is None and "KeyError" in items["r.jsonl:1"].error
    assert items["r.jsonl:2"].document.text == "Fine row."


def test_folder_below_a_dot_directory_is_read_and_hidden_files_below_it_are_not(tmp_path: Path) -> None:
    corpus = tmp_path / ".cache" / "corpus"
    (corpus / ".git").mkdir(parents=True)
    (corpus / "a.txt").write_text("An article under a dot-directory.", encoding="utf-8")
    (corpus / ".git" / "b.txt").write_text("Hidden below the folder given.", encoding="utf-8")
    (corpus / ".c.txt").write_text("A hidden file.", encoding="utf-8")
    items = list(iter_items([corpus]))
    assert [(Path(it.ref).name, it.document is not None) for it in items] == [("a.txt", True)]


def test_symlink_loops_and_broken_links_are_recorded_not_skipped(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_text("A real article.", encoding="utf-8")
    (tmp_path / "loop-a.txt").symlink_to(tmp_path / "loop-b.txt")
    (tmp_path / "loop-b.txt").symlink_to(tmp_path / "loop-a.txt")
    (tmp_path / "gone.txt").symlink_to(tmp_path / "deleted.txt")
    items = _refs(iter_items([tmp_path]), tmp_path)
    assert items["ok.txt"].document is not None
    assert items["loop-a.txt"].error == items["loop-b.txt"].error == "symbolic link loop"
    assert items["gone.txt"].error.startswith("broken symbolic link")


def test_a_folder_without_inputs_says_so(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("not an input", encoding="utf-8")
    (item,) = iter_items([tmp_path])
    assert item.ref == str(tmp_path) and item.document is None and "no input files" in item.error


# --- one character limit for every source ------------------------------------------------------------------------


def test_max_chars_is_one_limit_for_every_source(tmp_path: Path) -> None:
    from spinlens.sources.base import MAX_CHARS

    assert MAX_CHARS == 200_000 and Options().max_chars == MAX_CHARS
    body = "Words of a long article. " * 10  # 250 characters
    (tmp_path / "a.txt").write_text(body, encoding="utf-8")
    (tmp_path / "b.jsonl").write_text(json.dumps({"text": body}) + "\n")
    (tmp_path / "c.csv").write_text(f"text\n{body}\n")
    (tmp_path / "d.rss").write_text(
        f"<rss><channel><item><guid>e1</guid><description>{body}</description></item></channel></rss>"
    )
    page = PAGE.replace("</article>", f"<p>{body}</p></article>")
    (tmp_path / "e.html").write_text(page, encoding="utf-8")
    items = list(iter_items([tmp_path], Options(max_chars=200)))
    assert len(items) == 5
    for it in items:
        assert it.document is None and "characters, over the limit of 200 (--max-chars)" in it.error, it
    assert all(it.document for it in iter_items([tmp_path], Options(max_chars=2_000)))


def test_a_20_mb_txt_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    import tracemalloc

    path = tmp_path / "huge.txt"
    path.write_bytes(b"All work and no play. " * 1_000_000)  # 22 MB
    tracemalloc.start()
    (item,) = iter_items([path])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert item.document is None and "over the limit of 200,000 characters (--max-chars)" in item.error
    assert peak < 5_000_000


# --- junk is flagged, not analysed -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, reason",
    [
        ("A plain sentence of news.", None),
        ("Я читаю новости. 我在看新闻。", None),
        ("   \n\t", "text is empty"),
        ("12345 678 !!! ... 2024-01-01", "no words"),
        ("x" * 5_000_000, "one character"),
        ("Headline\n" + "=" * 200, "one character"),
        ('<div class="a"><span style="b">Hi</span><br/><img src="x.png"/></div>' * 50, "markup"),
        ("Laughs " + "&lol9;" * 12, "markup"),
        ('The regime lies <script>alert(1)</script><img src=x onerror="alert(2)"> every day!', None),
    ],
)
def test_why_not_text_flags_degenerate_texts(text: str, reason: str | None) -> None:
    from spinlens.sources.base import why_not_text

    problem = why_not_text(text)
    assert problem is None if reason is None else reason in problem


def test_junk_txt_files_are_recorded_failures(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("x" * 100_000, encoding="utf-8")
    (tmp_path / "page.txt").write_text(PAGE.replace("<p>", "<p class='p' style='color:red'>") * 2, encoding="utf-8")
    items = _refs(iter_items([tmp_path]), tmp_path)
    assert "one character" in items["x.txt"].error
    assert "markup" in items["page.txt"].error


def test_truncated_csv_with_an_unclosed_quote_is_a_recorded_failure(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('id,text\n1,First row.\n2,"An unclosed quote\n3,swallowed\n4,rows\n')
    items = _refs(iter_items([path]), tmp_path)
    assert items["t.csv:2"].document.text == "First row."
    bad = [it for it in items.values() if it.document is None]
    assert len(bad) == 1 and bad[0].ref.endswith("t.csv:3") and "unclosed quote" in bad[0].error


def test_billion_laughs_feed_is_a_failure_not_an_article(tmp_path: Path) -> None:
    lol = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    path = tmp_path / "lol.rss"
    path.write_text(
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol0 "lol">{lol}]>'
        "<rss><channel><title>T</title><item><guid>1</guid><title>Laughs &lol9;</title></item></channel></rss>"
    )
    (item,) = iter_items([path])
    assert item.document is None and "entit" in item.error


# --- messages ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-32-be"])
def test_utf16_and_utf32_files_with_a_bom_are_decoded_not_called_binary(tmp_path: Path, encoding: str) -> None:
    bom = "\ufeff" if encoding.endswith("be") else ""  # the plain codecs write their own BOM
    (tmp_path / "a.txt").write_text(bom + "Café news.", encoding=encoding)
    (tmp_path / "b.csv").write_text(bom + "text\nCafé row.\n", encoding=encoding)
    (tmp_path / "c.jsonl").write_text(bom + '{"text": "Café line."}\n', encoding=encoding)
    (tmp_path / "d.html").write_text(bom + PAGE, encoding=encoding)
    items = _refs(iter_items([tmp_path]), tmp_path)
    assert items["d.html"].document.title == "Headline here"
    assert items["a.txt"].document.text.lstrip("\ufeff") == "Café news."
    assert items["b.csv:2"].document.text == "Café row."
    assert items["c.jsonl:1"].document.text == "Café line."


def test_csv_row_with_extra_fields_says_how_many(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("id,title,text,source\n1,T,Fine,S\n2,T,Body,S,extra\n")
    items = _refs(iter_items([path]), tmp_path)
    assert items["x.csv:3"].error == "5 fields, header has 4"


def test_json_error_message_does_not_say_at_at(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"text": "unterminated\n')
    (item,) = iter_items([path])
    assert item.error == "invalid JSON (Unterminated string starting at column 10)"


# --- `spinlens analyze` reads through sources/ -------------------------------------------------------------------


def test_analyze_reads_every_input_through_sources_and_reports_each_failure_in_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from spinlens.cli import app

    (tmp_path / "good.txt").write_text("The corrupt regime lies to its people every single day.", encoding="utf-8")
    (tmp_path / "bad.txt").write_bytes(b"caf\x00 au lait")  # binary (Latin-1 is read: its encoding is detected)
    style = "<style>.regime { color: red } /* lies */</style>"
    (tmp_path / "page.html").write_text(PAGE.replace("</head>", style + "</head>"), encoding="utf-8")
    (tmp_path / "rows.jsonl").write_text('{"id": "row-1", "text": "A plain row of news."}\n{broken\n')
    res = CliRunner().invoke(app, ["analyze", str(tmp_path), "--format", "jsonl"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    records = {r["id"]: r for r in map(json.loads, res.stdout.splitlines())}
    assert set(records) == {"good", "page", "row-1"}
    page = records["page"]  # the article trafilatura found, not the page's markup and style code
    assert page["title"] == "Headline here" and page["characters"] < 300
    assert not any("color" in s["text"] for s in page["spans"])
    failures = [line for line in res.stderr.splitlines() if line.startswith(str(tmp_path))]
    assert failures == [
        f"{tmp_path}/bad.txt: looks like a binary file (NUL byte at offset 3), not text",
        f"{tmp_path}/rows.jsonl:2: invalid JSON (Expecting property name enclosed in double quotes at column 2)",
    ]


def test_analyze_max_chars_and_an_io_error_are_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from spinlens.cli import app

    path = tmp_path / "a.txt"
    path.write_text("The corrupt regime lies to its people every single day.", encoding="utf-8")
    res = CliRunner().invoke(app, ["analyze", str(path), "--max-chars", "20"])
    assert res.exit_code == 2 and f"{path}: text has 55 characters, over the limit of 20 (--max-chars)" in res.stderr
    res = CliRunner().invoke(app, ["analyze", str(path), "-o", str(tmp_path / "no" / "such" / "out.json")])
    assert res.exit_code == 2 and "Traceback" not in res.output and isinstance(res.exception, SystemExit)
    assert res.stderr.count("\n") == 1 and "No such file or directory" in res.stderr


def test_analyze_inputs_keep_ptc_ids_and_refuse_a_second_document_with_the_same_id(tmp_path: Path) -> None:
    from spinlens.cli import _read_inputs

    ptc = tmp_path / "ptc"
    ptc.mkdir()
    (ptc / "article111.txt").write_text("A PTC article.", encoding="utf-8")
    (ptc / "notes.jsonl").write_text('{"text": "Not an article of this folder."}\n')
    docs, failures = _read_inputs([str(ptc)])
    assert [d.id for d in docs] == ["111"] and failures == []

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.txt").write_text("First text.", encoding="utf-8")
    (tmp_path / "b" / "x.txt").write_text("Second text.", encoding="utf-8")
    docs, failures = _read_inputs([str(tmp_path / "a"), str(tmp_path / "b")])
    assert [d.text for d in docs] == ["First text."]
    assert failures == [f"{tmp_path}/b/x.txt: id 'x' is also the id of {tmp_path}/a/x.txt; ids must be unique"]
