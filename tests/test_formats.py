import json

import pytest

from spinlens import Document, InputError
from spinlens.formats import (
    read_articles,
    read_labels,
    read_semeval2021,
    read_text,
    write_jsonl,
    write_labels,
    write_semeval2021,
    write_text,
)
from spinlens.formats.ptc import write_per_article
from spinlens.sources import jsonl_documents

from .conftest import FIXTURES, PTC, SEMEVAL2021, needs_ptc, needs_semeval2021


def test_text_round_trip_keeps_every_byte(tmp_path):
    raw = b"\xef\xbb\xbfTitle\r\n\r\nBody \xe2\x80\x9cquoted\xe2\x80\x9d\n"
    (tmp_path / "a.txt").write_bytes(raw)
    doc = read_text(tmp_path / "a.txt")
    write_text(doc, tmp_path / "b.txt")
    assert (tmp_path / "b.txt").read_bytes() == raw


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "file is empty"),
        (b"  \n\n", "file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary"),
        (b"line one\ncaf\xe9\n", "not valid UTF-8 (byte 0xe9"),
    ],
)
def test_bad_text_files_name_the_file(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(InputError, match="bad.txt") as info:
        read_text(path)
    assert message in str(info.value)


def test_undecodable_byte_names_its_line(tmp_path):
    (tmp_path / "bad.txt").write_bytes(b"line one\ncaf\xe9\n")
    with pytest.raises(InputError) as info:
        read_text(tmp_path / "bad.txt")
    assert info.value.line == 2


def test_folder_without_articles_is_an_error(tmp_path):
    with pytest.raises(InputError, match="no \\*.txt articles"):
        read_articles(tmp_path)


def test_jsonl_round_trip(tmp_path):
    docs = [
        Document(id="1", text="First\nline", title="T1", source="S", url="u", published="2021-03-04"),
        Document(id="2", text="Second 🙂", metadata={"topic": "x"}),
    ]
    assert write_jsonl(docs, tmp_path / "c.jsonl") == 2
    assert list(jsonl_documents(tmp_path / "c.jsonl")) == docs


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"id": 1, "text": "ok"', "invalid JSON"),
        ('["not", "an", "object"]', "expected a JSON object"),
        ('{"id": 1}', "field 'text' is missing"),
        ('{"id": 1, "text": "Some text.", "title": 5}', "field 'title': Input should be a valid string"),
        ('{"id": 1, "text": "unterminated', r"invalid JSON \(Unterminated string starting at column 19\)"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"id": 1, "text": "' + "x" * 300 + '"}', "one character"),
    ],
)
def test_jsonl_errors_name_the_line(tmp_path, line, message):
    path = tmp_path / "c.jsonl"
    path.write_text('{"id": "ok", "text": "fine"}\n\n' + line + "\n")
    with pytest.raises(InputError, match=message) as info:
        list(jsonl_documents(path))
    assert info.value.line == 3 and "c.jsonl:3" in str(info.value)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_utf16_and_utf32_text_with_a_bom_is_decoded_not_called_binary(tmp_path, encoding):
    (tmp_path / "a.txt").write_text("Café\nnews.", encoding=encoding)
    assert read_text(tmp_path / "a.txt").text == "\ufeffCafé\nnews."  # the BOM is character 0, as in UTF-8
    (tmp_path / "b.txt").write_bytes("ok\n".encode(encoding) + b"\xff")
    with pytest.raises(InputError, match=f"not valid {encoding.upper()}") as info:
        read_text(tmp_path / "b.txt")
    assert info.value.line == 2


def test_ptc_labels_fixture_round_trip(tmp_path):
    articles = read_articles(FIXTURES)
    labels = read_labels(FIXTURES / "article900000001.task-flc-tc.labels", articles)
    assert len(labels) == 5
    assert articles["900000001"].text[labels[0].start : labels[0].end] == "Kiev regime"
    write_labels(labels, tmp_path / "merged.labels")
    assert read_labels(tmp_path / "merged.labels", articles) == labels
    write_per_article(labels, tmp_path / "per")
    assert read_labels(tmp_path / "per", articles) == labels
    write_labels(labels, tmp_path / "template.txt", template=True)
    template = read_labels(tmp_path / "template.txt", articles)
    assert [(x.start, x.end) for x in template] == [(x.start, x.end) for x in labels]
    assert all(x.technique is None for x in template)


@pytest.mark.parametrize(
    "line, message",
    [
        ("900000001\t5", "expected 3 \\(ID START END\\) or 4"),
        ("900000001\tLoaded_Language\t5", "needs 4 fields"),
        ("900000001\tLoaded Language\t5\t9", "unknown technique 'Loaded Language'"),
        ("900000001\tLoaded_Language\tfive\t9", "must be integers"),
        ("900000001\tLoaded_Language\t9\t5", "need 0 <= start < end"),
        ("900000001\tLoaded_Language\t5\t99999", "ends past the text of article 900000001"),
        ("123\tLoaded_Language\t5\t9", "article '123' is not among"),
    ],
)
def test_malformed_label_lines_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "x.labels"
    path.write_text("900000001\tDoubt\t1\t5\n" + line + "\n")
    with pytest.raises(InputError, match=message) as info:
        read_labels(path, read_articles(FIXTURES))
    assert str(info.value).startswith(f"{path}:2: ")


@needs_ptc
def test_shared_ptc_labels_round_trip(tmp_path):
    articles = read_articles(PTC / "train-articles")
    assert len(articles) == 371
    merged = read_labels(PTC / "train-task-flc-tc.labels", articles)
    per_article = read_labels(PTC / "train-labels-task-flc-tc", articles)
    assert len(merged) == 6128 and sorted(merged) == sorted(per_article)
    write_labels(merged, tmp_path / "out.labels")
    assert (tmp_path / "out.labels").read_bytes() == (PTC / "train-task-flc-tc.labels").read_bytes()
    si = read_labels(PTC / "train-task-si.labels", articles)
    assert all(x.technique is None for x in si)
    # SI and TC cover the same characters
    covered = lambda labs: {(x.article_id, i) for x in labs for i in range(x.start, x.end)}  # noqa: E731
    assert covered(si) == covered(merged)


def test_semeval2021_fixture_round_trip(tmp_path):
    items = read_semeval2021(FIXTURES / "memes.json")
    doc, spans = items[0]
    assert [s.text_in(doc) for s in spans] == ["STOP THE LIES", "traitor"]
    write_semeval2021(items, tmp_path / "out.json")
    assert read_semeval2021(tmp_path / "out.json") == items


def test_semeval2021_bad_label_is_named(tmp_path):
    rows = json.loads((FIXTURES / "memes.json").read_text())
    rows[0]["labels"][1]["technique"] = "Name_Calling,Labeling"
    (tmp_path / "bad.json").write_text(json.dumps(rows))
    with pytest.raises(InputError, match="item 0 \\(id m1\\): unknown SemEval-2021 technique"):
        read_semeval2021(tmp_path / "bad.json")


@needs_semeval2021
@pytest.mark.parametrize("name", ["training_set_task1.txt", "training_set_task2.txt", "dev_set_task2.txt"])
def test_shared_semeval2021_round_trip(tmp_path, name):
    items = read_semeval2021(SEMEVAL2021 / name)
    assert len(items) in (688, 63)
    write_semeval2021(items, tmp_path / name)
    assert read_semeval2021(tmp_path / name) == items
    original = json.loads((SEMEVAL2021 / name).read_text(encoding="utf-8"))
    assert json.loads((tmp_path / name).read_text(encoding="utf-8")) == original
