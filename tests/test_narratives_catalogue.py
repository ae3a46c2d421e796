"""Catalogue files: every format read with its bad rows named (file, line, field), disproofs never read; the
catalogue tables on SQLite and PostgreSQL: round trip, only new or changed claims encoded, resumable, removable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import spinlens.narratives.store  # noqa: F401  (its tables join Base, so that the db_url fixture empties them too)
from spinlens.errors import InputError
from spinlens.narratives.catalogue import Claim, read_catalogue

CSV = """id,claim,title,url,date,verdict,keywords,disproof
c1,The West staged the Maidan coup in Kiev,,https://example.org/c1,2014-03-01,False,Maidan;Ukraine,"The Maidan was a popular protest"
c2,,,https://example.org/c2,,,,
c3,Vaccines contain microchips,,not-a-url,,,,
c4,NATO promised never to expand eastwards,,https://example.org/c4,03/05/2014,,,
c5,VACCINES   contain microchips,,https://example.org/c5,2021-01-01,False,,
c1,A different claim under a used id,,https://example.org/c1b,,,,
c6,"A claim
over two lines",,https://example.org/c6,2020-02-02,,,
"""

EUVS = """date,id,title,countries,keywords,languages,outlets
2021-02-18,https://euvsdisinfo.eu/report/a/,German special services helped Navalny,Russia+Germany,Alexei Navalny+Vladimir Putin,Russian+German,TASS
2021-02-17,,A case without its URL,Russia,,Russian,RT
2021-02-16,https://euvsdisinfo.eu/report/b/,German special services helped Navalny,Russia,,English,Sputnik
"""


def _claimreview(url: str, claim: str | None, rating: str = "False") -> dict:
    review = {
        "@context": "https://schema.org",
        "@type": "ClaimReview",
        "url": url,
        "datePublished": "2020-05-04",
        "author": {"@type": "Organization", "name": "Example Checks"},
        "reviewRating": {"@type": "Rating", "alternateName": rating},
        "reviewBody": "This is false: 5G masts do not spread viruses.",
        "itemReviewed": {"@type": "Claim", "author": {"@type": "Person", "name": "A blogger"}},
    }
    if claim is not None:
        review["claimReviewed"] = claim
    return review


def test_csv_keeps_good_rows_and_names_each_bad_one(tmp_path: Path) -> None:
    path = tmp_path / "claims.csv"
    path.write_text(CSV, encoding="utf-8")
    result = read_catalogue(path)
    assert [c.id for c in result.claims] == ["c1", "c5", "c6"]
    assert result.problems == [
        f"{path}:3: field claim: missing or empty",
        f"{path}:4: field url: 'not-a-url' is not an http(s) address",
        f"{path}:5: field date: '03/05/2014' is not a date (YYYY-MM-DD)",
        f"{path}:7: field id: 'c1' already used for another claim ({path}:2)",
    ]
    c1 = result.claims[0]
    assert c1.keywords == ["Maidan", "Ukraine"] and c1.verdict == "False" and c1.date == "2014-03-01"
    assert "popular protest" not in json.dumps(c1.model_dump()), "a disproof column is never read"
    assert result.claims[-1].claim == "A claim over two lines"


def test_csv_without_a_claim_column_is_refused_whole(tmp_path: Path) -> None:
    path = tmp_path / "claims.csv"
    path.write_text("id,text\n1,hello\n", encoding="utf-8")
    with pytest.raises(InputError, match="no claim column"):
        read_catalogue(path)


def test_identical_claims_are_kept_once(tmp_path: Path) -> None:
    path = tmp_path / "claims.csv"
    path.write_text("id,claim\na,Vaccines contain microchips\nb,  vaccines CONTAIN microchips \n", encoding="utf-8")
    result = read_catalogue(path)
    assert len(result.claims) == 1 and result.claims[0].duplicates == ["b"] and result.merged == 1


def test_euvsdisinfo_layout(tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    path.write_text(EUVS, encoding="utf-8")
    result = read_catalogue(path)
    assert result.problems == [f"{path}:3: field id: missing or empty"]
    (claim,) = result.claims
    assert claim.id == claim.url == "https://euvsdisinfo.eu/report/a/"
    assert claim.claim == "German special services helped Navalny" and claim.language == "en"
    assert claim.keywords == ["Alexei Navalny", "Vladimir Putin"]
    assert claim.extra["countries"] == ["Russia", "Germany"] and claim.extra["languages"] == ["Russian", "German"]
    assert claim.duplicates == ["https://euvsdisinfo.eu/report/b/"]


@pytest.mark.parametrize("shape", ["object", "list", "graph", "feed", "jsonl"])
def test_claimreview_shapes(tmp_path: Path, shape: str) -> None:
    good = _claimreview("https://checks.example/5g", "5G masts spread the coronavirus")
    bad = _claimreview("https://checks.example/empty", None)
    if shape == "object":
        path, data = tmp_path / "review.json", json.dumps(good)
    elif shape == "list":
        path, data = tmp_path / "reviews.json", json.dumps([good, bad])
    elif shape == "graph":
        path, data = tmp_path / "reviews.jsonld", json.dumps({"@context": "https://schema.org", "@graph": [good, bad]})
    elif shape == "feed":
        feed = {"@type": "DataFeed", "dataFeedElement": [{"@type": "DataFeedItem", "item": [good]}, {"item": [bad]}]}
        path, data = tmp_path / "feed.json", json.dumps(feed)
    else:
        path, data = tmp_path / "reviews.jsonl", json.dumps(good) + "\n" + json.dumps(bad) + "\n{not json\n"
    path.write_text(data, encoding="utf-8")
    result = read_catalogue(path)
    (claim,) = result.claims
    assert claim.claim == "5G masts spread the coronavirus" and claim.url == "https://checks.example/5g"
    assert claim.verdict == "False" and claim.date == "2020-05-04" and claim.extra["publisher"] == "Example Checks"
    assert "viruses" not in json.dumps(claim.model_dump()), "the review's body (the disproof) is never read"
    if shape == "jsonl":
        assert result.problems == [
            f"{path}:2: field claimReviewed: missing or empty",
            f"{path}:3: not JSON: Expecting property name enclosed in double quotes (column 2)",
        ]
    elif shape != "object":
        assert len(result.problems) == 1 and result.problems[0].endswith("field claimReviewed: missing or empty")
        assert result.problems[0].startswith(str(path))


def test_plain_jsonl_records(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    rows = [
        {"id": "n1", "claim": "The moon landing was staged", "keywords": ["space"], "language": "en"},
        {"id": "n2", "claim": "x" * 1500},
        {"id": "n3", "claim": "Bad date", "date": "yesterday"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    result = read_catalogue(path)
    assert [c.id for c in result.claims] == ["n1"] and result.claims[0].keywords == ["space"]
    assert result.problems[0].startswith(f"{path}:2: field claim: 1,500 characters")
    assert result.problems[1] == f"{path}:3: field date: 'yesterday' is not a date (YYYY-MM-DD)"


class Counting:
    """The real MiniLM encoder, counting the texts it is given."""

    def __init__(self) -> None:
        from spinlens.narratives.encoders import get_encoder

        self.inner = get_encoder("minilm")
        self.name = self.inner.name
        self.texts: list[str] = []

    def encode(self, texts):  # type: ignore[no-untyped-def]
        self.texts.extend(texts)
        return self.inner.encode(texts)


def _claims(*pairs: tuple[str, str]):  # type: ignore[no-untyped-def]
    from spinlens.narratives.catalogue import ReadResult

    return ReadResult(claims=[Claim(id=i, claim=t, url=f"https://example.org/{i}") for i, t in pairs])


def test_store_round_trip_encodes_only_new_or_changed_claims(db_url: str) -> None:
    from spinlens.narratives.store import CatalogueStore
    from spinlens.store import Store

    store = CatalogueStore(Store(db_url))
    enc = Counting()
    first = _claims(("a", "The West staged the Maidan coup"), ("b", "Vaccines contain microchips"))
    done = store.add("mine", first, [enc], source="first.csv", fmt="csv")
    assert (done.new, done.encoded) == (2, 2)
    assert store.claims("mine") == first.claims
    # again, with one claim changed, one new, one identical to a stored claim under another id
    second = _claims(
        ("a", "The West staged the Maidan coup"),
        ("b", "Vaccines contain 5G microchips"),
        ("c", "NATO promised not to expand"),
        ("d", "the west staged  the MAIDAN coup"),
    )
    enc.texts.clear()
    done = store.add("mine", second, [enc])
    assert (done.new, done.changed, done.unchanged, done.merged) == (1, 1, 1, 1)
    assert sorted(enc.texts) == ["NATO promised not to expand", "Vaccines contain 5G microchips"]
    stored = {c.id: c for c in store.claims("mine")}
    assert set(stored) == {"a", "b", "c"} and stored["a"].duplicates == ["d"]
    entries, vectors, owners = store.load(["mine"], enc)
    assert [e.claim.id for e in entries] == ["a", "b", "c"] and list(owners) == [0, 1, 2]
    expected = enc.inner.encode([e.claim.claim for e in entries])
    assert np.allclose(vectors, expected, atol=1e-5)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # replace: what the file no longer has goes; its vectors too
    done = store.add("mine", _claims(("c", "NATO promised not to expand")), [enc], replace=True)
    assert done.removed == 2 and [c.id for c in store.claims("mine")] == ["c"]
    listed = store.list()
    assert listed[0]["name"] == "mine" and listed[0]["claims"] == 1 and listed[0]["complete"]
    assert store.remove("mine") == 1 and store.list() == []
    with pytest.raises(InputError, match="no catalogue 'mine'"):
        store.claims("mine")


def test_an_interrupted_add_resumes_without_encoding_again(db_url: str, monkeypatch) -> None:
    from spinlens.narratives import store as module
    from spinlens.narratives.store import CatalogueStore
    from spinlens.store import Store

    monkeypatch.setattr(module, "CHUNK", 2)
    store = CatalogueStore(Store(db_url))
    enc = Counting()
    claims = _claims(*[(f"k{i}", f"Claim number {i} about a secret plan") for i in range(5)])

    def stop_after_two_chunks(items, label, total):  # type: ignore[no-untyped-def]
        for n, item in enumerate(items):
            if n == 4:
                raise KeyboardInterrupt
            yield item

    with pytest.raises(KeyboardInterrupt):
        store.add("big", claims, [enc], progress=stop_after_two_chunks)
    assert len(store.claims("big")) == 4 and not store.list()[0]["complete"]
    enc.texts.clear()
    done = store.add("big", claims, [enc])
    assert (done.new, done.unchanged, done.encoded) == (1, 4, 1) and enc.texts == ["Claim number 4 about a secret plan"]
    assert store.list()[0]["complete"] and len(store.claims("big")) == 5


def test_catalogue_commands(tmp_path: Path) -> None:
    from spinlens.cli import app

    path = tmp_path / "claims.csv"
    path.write_text(CSV, encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    runner = CliRunner()
    added = runner.invoke(app, ["catalogue", "add", "mine", str(path), "--db", db], env={"SPINLENS_PROGRESS": "1"})
    assert added.exit_code == 1, "bad rows make the exit status 1"
    assert "catalogue mine" in added.output and "ETA" in added.output and "/s" in added.output, "progress shown"
    assert f"{path}:4: field url" in added.output and "3 new" in added.output and "Traceback" not in added.output
    listed = runner.invoke(app, ["catalogue", "list", "--db", db, "--json"])
    assert json.loads(listed.stdout.splitlines()[0])["claims"] == 3
    strict = runner.invoke(app, ["catalogue", "add", "other", str(path), "--db", db, "--strict"])
    assert strict.exit_code == 2 and "nothing stored" in strict.output
    assert "other" not in runner.invoke(app, ["catalogue", "list", "--db", db, "--json"]).stdout
    missing = runner.invoke(app, ["catalogue", "remove", "nope", "--db", db])
    assert missing.exit_code == 2 and "no catalogue 'nope'" in missing.output
    assert runner.invoke(app, ["catalogue", "remove", "mine", "--db", db]).exit_code == 0
