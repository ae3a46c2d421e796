"""The genre set (spinlens/data/genre, issue 19): every span resolves, the counts hold, folds keep docs together."""

from __future__ import annotations

import fnmatch
import json
import tomllib
from collections import Counter
from pathlib import Path

import pytest

from spinlens import taxonomy
from spinlens.errors import InputError
from spinlens.training import genre

ROOT = Path(__file__).resolve().parent.parent
MIN_SENTENCES = 320
MIN_PER_TECHNIQUE = 10  # sentences carrying each technique in sentences.jsonl


@pytest.fixture(scope="module")
def sentences() -> list[genre.GenreItem]:
    return genre.load("sentences")


def test_every_span_resolves_to_its_quote_on_word_boundaries() -> None:
    for name in genre.SETS:
        raw = [json.loads(x) for x in (genre.DATA_DIR / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
        items = genre.load(name)
        assert len(items) == len(raw)
        for obj, item in zip(raw, items, strict=True):
            quotes = sorted((s["quote"], s["technique"]) for s in obj["spans"])
            resolved = sorted((item.text[x.start : x.end], x.technique) for x in item.labels)
            assert resolved == quotes, item.id
            for x in item.labels:
                assert genre.on_word_boundaries(item.text, x.start, x.end), (item.id, x)
                assert x.technique in taxonomy.PTC14


def test_jsonl_is_what_the_markup_compiles_to() -> None:
    for name in genre.SETS:
        records = genre.compile_markup(genre.DATA_DIR / f"{name}.ann", name)
        lines = (genre.DATA_DIR / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        assert [json.loads(x) for x in lines] == records, (
            f"{name}.jsonl is stale: run python -m spinlens.training.genre"
        )


def test_sentence_counts_per_technique_and_neutral_share(sentences: list[genre.GenreItem]) -> None:
    assert len(sentences) >= MIN_SENTENCES
    per_technique = Counter(t for it in sentences for t in {x.technique for x in it.labels})
    for technique in taxonomy.PTC14:
        assert per_technique[technique] >= MIN_PER_TECHNIQUE, (technique, per_technique[technique])
    neutral = sum(1 for it in sentences if not it.labels)
    assert neutral / len(sentences) >= 0.25
    assert {it.genre for it in sentences} >= {"op-ed", "statement", "headline", "post", "wire"}
    docs = Counter(it.doc for it in sentences)
    assert all(n >= 1 for n in docs.values()) and len(docs) >= len(sentences) / 8


def test_excerpts_name_their_source(sentences: list[genre.GenreItem]) -> None:
    for it in sentences:
        assert it.source == "written" or it.source.startswith(("http://", "https://")), it.id


def test_doc_articles_keep_the_sentence_spans(sentences: list[genre.GenreItem]) -> None:
    by_sentence = genre.corpus("sentences", "sentence")
    by_doc = genre.corpus("sentences", "doc")
    assert len(by_sentence.labels) == len(by_doc.labels) == sum(len(it.labels) for it in sentences)
    quotes_s = Counter(
        (lab.technique, by_sentence.articles[lab.article_id].text[lab.start : lab.end]) for lab in by_sentence.labels
    )
    quotes_d = Counter(
        (lab.technique, by_doc.articles[lab.article_id].text[lab.start : lab.end]) for lab in by_doc.labels
    )
    assert quotes_s == quotes_d
    assert all(aid.startswith("genre-") for aid in by_sentence.articles)
    assert set(by_sentence.groups.values()) == set(by_doc.articles)


def test_folds_are_seeded_and_keep_each_doc_together(sentences: list[genre.GenreItem]) -> None:
    folds = genre.genre_folds()
    assert folds == genre.genre_folds(n=5, seed=20200)
    assert set(folds) == {it.id for it in sentences}
    assert set(folds.values()) == set(range(5))
    by_doc: dict[str, set[int]] = {}
    for it in sentences:
        by_doc.setdefault(it.doc, set()).add(folds[it.id])
    assert all(len(f) == 1 for f in by_doc.values())
    assert genre.genre_folds(seed=1) != folds


def test_short_texts_and_wire_reports(sentences: list[genre.GenreItem]) -> None:
    short = genre.load("short_texts")
    per_technique = Counter(x.technique for it in short for x in it.labels)
    for technique in taxonomy.PTC14:
        assert per_technique[technique] >= 4, technique
    assert sum(1 for it in short if not it.labels) >= 20
    assert all(len({x.technique for x in it.labels}) <= 1 for it in short)
    fixtures = {json.loads(x)["text"] for x in (ROOT / "tests/fixtures/short_texts.jsonl").read_text().splitlines()}
    assert not fixtures & {it.text for it in short}
    assert not {it.text for it in sentences} & {it.text for it in short}
    wire = genre.load("wire_reports")
    assert len(wire) >= 8
    assert all(not it.labels and it.genre == "wire" for it in wire)


def test_training_only_sets_share_nothing_with_the_checks() -> None:
    """The contrast docs and textbook one-liners train; the one-liners, wire reports and fixtures check: no check
    text, and no phrase a check marks or quotes, may be in what trains, or the checks would measure memory (the
    genre's common labels, "Kiev regime", were in the training sentences before and stay allowed)."""
    import re

    checks = genre.load("short_texts") + genre.load("wire_reports")
    fixtures = [json.loads(x) for x in (ROOT / "tests/fixtures/short_texts.jsonl").read_text().splitlines()]
    phrases = {it.text[x.start : x.end].lower() for it in checks for x in it.labels}
    phrases |= {q.lower() for it in checks for q in re.findall(r'"([^"]{6,})"', it.text)}  # quoted words
    phrases -= {
        it.text[x.start : x.end].lower() for it in genre.load("sentences") for x in it.labels
    }  # the genre's common labels
    texts = {it.text for it in checks} | {f["text"] for f in fixtures}
    for name in genre.TRAINING_ONLY:
        items = genre.load(name)
        assert len(items) >= 200, name
        assert sum(1 for it in items if not it.labels) / len(items) >= 0.2, name  # silence is taught too
        for it in items:
            assert it.text not in texts, (name, it.id)
            found = [p for p in phrases if len(p.split()) >= 2 and p in it.text.lower()]
            assert not found, (name, it.id, found)
    assert {it.doc for it in genre.load("contrast")}.isdisjoint({it.doc for it in genre.load("sentences")})


def test_package_data_covers_the_genre_files() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["spinlens"]
    package = ROOT / "src" / "spinlens"
    for path in genre.DATA_DIR.iterdir():
        rel = path.relative_to(package).as_posix()
        assert any(fnmatch.fnmatch(rel, p.replace("**/", "*")) for p in patterns), rel


@pytest.mark.parametrize(
    ("span", "reason"),
    [
        ({"quote": "regime", "occurrence": 1, "technique": "Name_calling"}, "unknown technique"),
        ({"quote": "junta", "occurrence": 1, "technique": "Name_Calling,Labeling"}, "occurs 0 time"),
        ({"quote": "regime", "occurrence": 2, "technique": "Name_Calling,Labeling"}, "occurs 1 time"),
        ({"quote": "egime", "occurrence": 1, "technique": "Name_Calling,Labeling"}, "inside a word"),
    ],
)
def test_bad_spans_are_refused_with_file_and_line(tmp_path: Path, span: dict, reason: str) -> None:  # type: ignore[type-arg]
    good = {"id": "x1", "doc": "d", "genre": "post", "source": "written", "text": "The Kiev regime again.", "spans": []}
    bad = dict(good, id="x2", spans=[span])
    (tmp_path / "sentences.jsonl").write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=reason) as err:
        genre.load("sentences", tmp_path)
    assert err.value.line == 2 and err.value.path is not None and err.value.path.endswith("sentences.jsonl")


def test_markup_nests_and_stacks_techniques() -> None:
    text, spans = genre.parse_markup("[If [the junta]{NC} wins, Europe burns]{FEAR}, [they say]{LL+REP}.")
    assert text == "If the junta wins, Europe burns, they say."
    got = sorted((text[a:b], t) for a, b, t in spans)
    assert got == sorted(
        [
            ("If the junta wins, Europe burns", "Appeal_to_fear-prejudice"),
            ("the junta", "Name_Calling,Labeling"),
            ("they say", "Loaded_Language"),
            ("they say", "Repetition"),
        ]
    )
    with pytest.raises(ValueError, match="unknown tag"):
        genre.parse_markup("[x]{XX}")


def test_markup_prefixes_in_either_order(tmp_path: Path) -> None:
    src = tmp_path / "sentences.ann"
    src.write_text(
        "== d1 op-ed\n"
        "@https://example.org/a >headline The [Kiev regime]{NC} again\n"
        ">post @https://example.org/b Plain words.\n"
        "Written here.\n",
        encoding="utf-8",
    )
    records = genre.compile_markup(src, "sentences")
    assert [(r["genre"], r["source"], r["text"]) for r in records] == [
        ("headline", "https://example.org/a", "The Kiev regime again"),
        ("post", "https://example.org/b", "Plain words."),
        ("op-ed", "written", "Written here."),
    ]
    src.write_text("== d1 op-ed\n>editorial Text.\n", encoding="utf-8")
    with pytest.raises(InputError, match="prefix"):
        genre.compile_markup(src, "sentences")


def test_readme_counts_are_the_data_counts() -> None:
    readme = (genre.DATA_DIR / "README.md").read_text(encoding="utf-8")
    assert genre.counts_tables() in readme, "README counts are stale: paste python -m spinlens.training.genre's tables"
