"""The store on SQLite and on a real PostgreSQL server: registration, duplicates, exactly-once results."""

from __future__ import annotations

import datetime as dt

import pytest

from spinlens.document import Analysis, Document, Span, TechniqueVerdict
from spinlens.store import Store


def _analysis(doc: Document, version: str = "1") -> Analysis:
    n = len(doc.text)
    return Analysis(
        document=doc,
        spans=[
            Span(
                start=0,
                end=min(5, n),
                technique="Loaded_Language",
                score=0.75,
                span_confidence=0.9,
                technique_confidence=0.8333,
            ),
            Span(start=0, end=min(5, n), technique="Name_Calling,Labeling", score=0.5),
        ],
        techniques=[TechniqueVerdict(technique="Loaded_Language", present=True, probability=0.9)],
        propaganda_score=0.9,
        model="test-model",
        model_version=version,
    )


def test_register_is_idempotent_and_links_duplicates(db_url: str) -> None:
    store = Store(db_url)
    a = Document(id="a", text="The  Kiev regime\nfalls.", source="Outlet A", published=dt.date(2024, 5, 1))
    same_text = Document(id="b", text="the kiev regime falls.", source="Outlet B")  # case and spaces differ
    other = Document(id="c", text="A plain report.", source="Outlet A", published=dt.datetime(2024, 6, 2, 10, 30))
    batch = [("x/a.txt", a, None), ("x/b.txt", same_text, None), ("x/c.txt", other, None), ("x/bad.txt", None, "empty")]
    first = store.register(batch)
    assert (first.new, first.duplicates, first.known, first.failed) == (2, 1, 0, 1)
    assert first.failures == [("x/bad.txt", "empty")]
    again = store.register(batch)
    assert (again.new, again.duplicates, again.known, again.failed) == (0, 0, 4, 0)

    pending = store.pending("test-model", "1")
    assert [d.id for _, d in pending] == ["a", "c"]  # the duplicate waits for its original's analysis
    assert store.count_pending("test-model", "1") == 2
    assert store.count_pending("test-model", "2") == 2
    assert pending[0][1] == a  # text, outlet and date (a date stays a date) come back as given
    assert pending[1][1].published.replace(tzinfo=None) == dt.datetime(2024, 6, 2, 10, 30)


def test_results_are_stored_once_and_read_back_whole(db_url: str) -> None:
    store = Store(db_url)
    doc = Document(id="a", text="Traitors everywhere, says the minister.", title="T", url="http://x.test/a")
    store.register([("a", doc, None), ("b", Document(id="b", text="Second one."), None)])
    (a_id, _), (b_id, _) = store.pending("test-model", "1")
    analysis = _analysis(doc)
    assert store.save_results([(a_id, analysis)], [(b_id, "analysis failed: boom")], model="test-model/1") == 1
    assert store.save_results([(a_id, analysis)]) == 0  # a batch committed twice adds nothing
    assert store.count_pending("test-model", "1") == 0  # b failed for this model and is not retried
    assert store.count_pending("test-model", "2") == 2  # a new model version analyses both

    found = store.find(doc.fingerprint, "test-model", "1")
    assert found is not None
    stored_id, stored = found
    assert stored.document == doc and stored.techniques == analysis.techniques
    fields = ("start", "end", "technique", "score", "span_confidence", "technique_confidence")
    assert [[getattr(s, f) for f in fields] for s in stored.spans] == [
        [getattr(s, f) for f in fields] for s in analysis.spans
    ]
    assert stored.spans[0].note.startswith("Loaded Language (Manipulative Wording)")
    assert store.get(stored_id) == stored and store.get(stored_id + 1000) is None
    assert store.failures() == [{"ref": "b", "stage": "analyse", "reason": "analysis failed: boom"}]
    assert store.counts() == {"documents": 2, "duplicates": 0, "analyses": 1, "spans": 2, "failures": 1}


def test_pasted_texts_share_the_corpus_tables(db_url: str) -> None:
    store = Store(db_url)
    doc = Document(id="pasted", text="They want war.\n")
    first = store.save(_analysis(doc))
    assert store.save(_analysis(doc)) == first
    assert store.save(_analysis(doc, version="2")) != first
    listed = store.list()
    assert [row["model_version"] for row in listed] == ["2", "1"] and listed[0]["title"] == "They want war."


def test_unstorable_texts_and_mended_inputs(db_url: str) -> None:
    store = Store(db_url)
    nul = Document(id="n", text="before\x00after")
    surrogate = Document(id="s", text="broken \ud800 escape")
    first = store.register([("n", nul, None), ("s", surrogate, None), ("f", None, "not valid UTF-8")])
    assert first.failed == 3 and store.count_pending("m", "1") == 0
    reasons = dict(first.failures)
    assert "NUL" in reasons["n"] and "unpaired surrogate at character 7" in reasons["s"]
    still = store.register([("f", None, "not valid UTF-8")])
    assert (still.known, still.failed) == (1, 0)  # a rerun does not record the same failure twice
    mended = store.register([("f", Document(id="f", text="Now it reads."), None)])  # the file was re-saved
    assert mended.new == 1 and [f["ref"] for f in store.failures()] == ["n", "s"]


def test_parquet_export_has_every_row(db_url: str, tmp_path) -> None:
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is not installed: pip install 'spinlens[parquet]'")
    from spinlens.store.export import export_parquet

    store = Store(db_url)
    doc = Document(id="a", text="They lie.", source="O", published=dt.date(2024, 1, 2))
    store.register([("a", doc, None), ("b", Document(id="b", text="THEY  LIE."), None)])
    ((a_id, _),) = store.pending("test-model", "1")
    store.save_results([(a_id, _analysis(doc))])
    assert export_parquet(store, tmp_path / "out") == {"documents": 2, "analyses": 1, "spans": 2}
    docs = pq.read_table(tmp_path / "out" / "documents.parquet").to_pylist()
    assert docs[0]["text"] == "They lie." and docs[0]["published"] == dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
    assert docs[1]["duplicate_of"] == docs[0]["id"]
    spans = pq.read_table(tmp_path / "out" / "spans.parquet").to_pylist()
    assert {s["technique"] for s in spans} == {"Loaded_Language", "Name_Calling,Labeling"}


def test_a_database_from_before_the_two_confidences_gets_their_columns(tmp_path) -> None:
    import sqlite3

    url = f"sqlite:///{tmp_path / 'old.db'}"
    Store(url)
    with sqlite3.connect(tmp_path / "old.db") as c:  # the spans table as it was: no confidence columns
        c.execute("ALTER TABLE spans DROP COLUMN span_confidence")
        c.execute("ALTER TABLE spans DROP COLUMN technique_confidence")
    store = Store(url)
    doc = Document(id="a", text="Traitors everywhere.")
    store.register([("a", doc, None)])
    ((a_id, _),) = store.pending("test-model", "1")
    assert store.save_results([(a_id, _analysis(doc))]) == 1
    stored = store.find(doc.fingerprint, "test-model", "1")
    assert stored is not None and stored[1].spans[0].span_confidence == 0.9
