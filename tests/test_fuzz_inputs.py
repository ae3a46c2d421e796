"""Every reader, fed what a hostile or broken corpus holds: no input raises, every item is a document or a reason.

Property-based (Hypothesis): random bytes, deep nesting, huge lines, bad encodings, byte-order marks, broken
quotes and hostile markup, written to a file of each type `spinlens.sources` reads.
"""

from __future__ import annotations

import codecs
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spinlens.sources import READERS, Options, iter_items
from spinlens.sources.base import why_not_text

FUZZ = settings(
    max_examples=int(os.environ.get("SPINLENS_FUZZ_EXAMPLES", 20)),  # more for a deeper search, e.g. 500
    deadline=None,
    database=None,  # nothing written into the repository
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
MAX_CHARS = 2_000  # small, so that the limit is reached often and cheaply

BOMS = [b"", codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE]
PIECES = [
    # broken quotes and table rows
    '"',
    '""',
    ",",
    "\n",
    "\r\n",
    "\r",
    "id,text,source\n",
    "text\n",
    '1,"open',
    "a,b,c,d,e\n",
    # JSON
    '{"text": ',
    '"A sentence of news."',
    "}",
    "[",
    "]",
    '{"text": "\\ud800"}',
    "null",
    "1e999999",
    "NaN",
    # markup, feeds, entities
    '<?xml version="1.0"?>',
    "<rss><channel>",
    "<item><title>",
    "</title>",
    "<description>",
    "</item>",
    '<feed xmlns="http://www.w3.org/2005/Atom"><entry>',
    "<content type='html'>",
    "&lt;p&gt;",
    "&amp;",
    "&lol;",
    '<!DOCTYPE r [<!ENTITY lol "lol"><!ENTITY e SYSTEM "file:///etc/passwd">]>',
    "&e;",
    "<![CDATA[",
    "]]>",
    "<script>alert(1)</script>",
    "<style>p{}</style>",
    "<!--",
    "-->",
    "<p>",
    "<div>" * 50,
    "</",
    ">",
    # text, odd characters
    "The corrupt regime lies every day. ",
    "Я читаю новости. ",
    "\u2028",
    "\ufeff",
    "\x00",
    "\udcff",
    "x" * 500,
]


def _encoded(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="surrogatepass" if encoding.startswith("utf") else "replace")


texts = st.lists(st.sampled_from(PIECES) | st.text(max_size=40), max_size=40).map("".join)
encoded = st.builds(_encoded, texts, st.sampled_from(["utf-8", "utf-16-le", "utf-32-be", "latin-1", "cp1252"]))
nested = st.builds(
    lambda opener, closer, depth, tail: (opener * depth + closer * tail).encode(),
    st.sampled_from(["[", '{"a":', "<div>", "<item>", "&lt;b&gt;"]),
    st.sampled_from(["]", "}", "</div>", ""]),
    st.integers(0, 100_000),
    st.integers(0, 1_000),
)
huge = st.builds(
    lambda piece, times: (piece * times).encode(),
    st.sampled_from(["x", "word ", '"', "<", '{"text": "', "\n", "a,"]),
    st.integers(MAX_CHARS, 300_000),
)
adversarial = st.builds(
    lambda bom, body: bom + body, st.sampled_from(BOMS), st.one_of(st.binary(max_size=3_000), encoded, nested, huge)
)


def _check(items: list, path: Path) -> None:
    for it in items:
        assert isinstance(it.ref, str) and it.ref.startswith(str(path)), it.ref
        assert (it.document is None) != (it.error is None), it
        if it.document is None:
            assert it.error.strip() and len(it.error.splitlines()) == 1 and len(it.error) <= 500, it.error
            it.error.encode("utf-8")  # printable: no lone surrogates
        else:
            assert len(it.document.text) <= MAX_CHARS and why_not_text(it.document.text) is None


@pytest.mark.parametrize("suffix", sorted(READERS))
@FUZZ
@given(data=adversarial)
def test_no_input_makes_a_reader_raise(tmp_path: Path, suffix: str, data: bytes) -> None:
    path = tmp_path / f"input{suffix}"
    path.write_bytes(data)
    items = list(iter_items([path], Options(max_chars=MAX_CHARS)))
    assert items, "an input always yields at least one item: a document or why there is none"
    _check(items, path)


@settings(FUZZ, max_examples=60)
@given(lines=st.lists(st.one_of(st.binary(max_size=300), encoded, nested, huge), min_size=1, max_size=4))
def test_a_bad_jsonl_line_costs_that_line_only(tmp_path: Path, lines: list[bytes]) -> None:
    good = json.dumps({"text": "A good row of news."}).encode()
    body = [line.replace(b"\n", b" ").replace(b"\x00", b" ") for line in lines]  # one line each
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b"\n".join([good, *body, good]) + b"\n")
    items = list(iter_items([path], Options(max_chars=MAX_CHARS)))
    _check(items, path)
    last = f"{path}:{len(lines) + 2}"
    assert items[0].document and items[-1].ref == last and items[-1].document, items[-1]


@FUZZ
@given(rows=st.lists(texts, min_size=1, max_size=5))
def test_a_bad_csv_record_is_recorded_and_reading_goes_on_or_says_why_not(tmp_path: Path, rows: list[str]) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("id,text\n" + "\n".join(rows) + "\n1,A good row of news.\n", encoding="utf-8", errors="replace")
    items = list(iter_items([path], Options(max_chars=MAX_CHARS)))
    _check(items, path)
    assert items[-1].document or items[-1].error


@settings(FUZZ, max_examples=200)
@given(text=st.text() | texts)
def test_why_not_text_takes_any_text(text: str) -> None:
    reason = why_not_text(text)
    assert reason is None or (len(reason.splitlines()) == 1 and reason.encode("utf-8"))
