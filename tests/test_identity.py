"""Re-reading sources (issue 22): a row is its id, a feed entry its GUID, a file its path; a changed text is a new
version; each item counts once and syndication stays visible. Real model, SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from spinlens.cli import app
from spinlens.scale import run_batch
from spinlens.sources import Options, iter_items
from spinlens.store import Store
from spinlens.store import stats as st
from spinlens.store.schema import AnalysisRow, DocumentRow, ref_key

ROWS = [
    ("c3", "Outlet A", "The corrupt regime in Kiev lies to its people again, the minister said on Monday."),
    ("c2", "Outlet B", "Parliament passed the budget after a long debate about schools and roads."),
    ("c1", "Outlet A", "Puppets of Brussels want to destroy our traditions, the commentator wrote."),
]
NEW_ROW = ("c4", "Outlet B", "Traitors in the capital have sold the country, a blogger claimed without evidence.")


def _export(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """An export as sites give them: newest first, an id column."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "source", "text"])
        writer.writerows(rows)
    return path


def _analysed_ids(store: Store) -> list[str]:
    with Session(store.engine) as s:
        q = select(DocumentRow.doc_id).join(AnalysisRow, AnalysisRow.document_id == DocumentRow.id)
        return sorted(s.scalars(q))


def test_a_re_downloaded_export_with_a_new_top_row_analyses_exactly_that_row(tmp_path: Path, db_url: str) -> None:
    store = Store(db_url)
    first = run_batch([_export(tmp_path / "export-1.csv", ROWS)], store, executor="local")
    assert (first.registered.new, first.analysed) == (3, 3)

    # the next day's export: one new row on top, every old row one line lower, under another file name
    again = run_batch([_export(tmp_path / "export-2.csv", [NEW_ROW, *ROWS])], store, executor="local")
    reg = again.registered
    assert (reg.new, reg.known, reg.duplicates, reg.changed, again.analysed) == (1, 3, 0, 0, 1)
    assert _analysed_ids(store) == ["c1", "c2", "c3", "c4"]  # the new claim was analysed, once
    outlets = {r["outlet"]: r["documents"] for r in st.by_outlet(store, st.choose_scope(store))}
    assert outlets == {"Outlet A": 2, "Outlet B": 2}  # and no old row counted twice

    # the same file overwritten in place: nothing new
    third = run_batch([_export(tmp_path / "export-1.csv", [NEW_ROW, *ROWS])], store, executor="local")
    assert (third.registered.new, third.registered.known, third.analysed) == (0, 4, 0)


def test_two_snapshots_of_one_feed_count_each_entry_once(tmp_path: Path, db_url: str) -> None:
    def feed(entries: list[tuple[str, str]]) -> str:
        items = "".join(
            f"<item><guid isPermaLink='false'>{guid}</guid><link>https://news.test/{guid}</link>"
            f"<title>Story {guid}</title><description>{text}</description></item>"
            for guid, text in entries
        )
        return f"<?xml version='1.0'?><rss version='2.0'><channel><title>News Test</title>{items}</channel></rss>"

    monday = [(guid, text) for guid, _, text in ROWS]
    edited = (monday[1][0], monday[1][1] + " The vote was close.")
    tuesday = [(NEW_ROW[0], NEW_ROW[2]), monday[0], edited]  # a new entry on top, one edited; the oldest fell off
    (tmp_path / "snap-mon.rss").write_text(feed(monday), encoding="utf-8")
    (tmp_path / "snap-tue.rss").write_text(feed(tuesday), encoding="utf-8")
    store = Store(db_url)
    run_batch([tmp_path / "snap-mon.rss"], store, executor="local")
    both = [tmp_path / "snap-mon.rss", tmp_path / "snap-tue.rss"]
    summary = run_batch(both, store, executor="local")
    reg = summary.registered
    assert (reg.new, reg.changed, reg.known, summary.analysed) == (2, 1, 4, 2)  # the new entry and the edited one
    rows = st.by_outlet(store, st.choose_scope(store))
    assert [(r["outlet"], r["documents"]) for r in rows] == [("News Test", 4)]
    assert st.overview(store, st.choose_scope(store))["documents"] == 4
    again = run_batch(both, store, executor="local")  # Monday's text of the edited entry is an old version now
    assert (again.registered.new, again.registered.changed, again.registered.known, again.analysed) == (0, 0, 6, 0)


def test_an_edited_file_is_analysed_again_as_a_new_version(tmp_path: Path, db_url: str) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    article = corpus / "story.txt"
    article.write_text(ROWS[0][2], encoding="utf-8")
    (corpus / "other.txt").write_text(ROWS[1][2], encoding="utf-8")
    store = Store(db_url)
    run_batch([corpus], store, executor="local")

    article.write_text(ROWS[0][2] + " Critics called the claim absurd.", encoding="utf-8")  # edited in place
    summary = run_batch([corpus], store, executor="local")
    reg = summary.registered
    assert (reg.changed, reg.new, reg.known, summary.analysed) == (1, 1, 1, 1)
    assert reg.changes == [str(article)]  # the run summary names it

    with Session(store.engine) as s:
        versions = s.scalars(
            select(DocumentRow).where(DocumentRow.identity == f"file:{article}").order_by(DocumentRow.version)
        ).all()
        assert [v.version for v in versions] == [1, 2]
        assert versions[0].superseded_by == versions[1].id and versions[1].superseded_by is None
        assert versions[1].text.endswith("absurd.")
        kept = s.scalars(select(AnalysisRow.document_id)).all()
    assert versions[0].id in kept and versions[1].id in kept  # the old version's analysis is kept ...
    scope = st.choose_scope(store)
    assert st.overview(store, scope)["documents"] == 2  # ... but each item counts once: its current version
    assert sum(r["documents"] for r in st.by_outlet(store, scope)) == 2

    again = run_batch([corpus], store, executor="local")  # read again unchanged: nothing to do
    assert (again.registered.changed, again.registered.known, again.analysed) == (0, 2, 0)


def test_syndication_is_shown_not_merged_and_multi_valued_sources_split(tmp_path: Path, db_url: str) -> None:
    text = ROWS[0][2]
    rows = [
        ("w1", "Wire Service+Daily Herald", text),
        ("w2", "Evening Post", text.upper()),
        ("w3", "Canal+", ROWS[1][2]),
    ]
    store = Store(db_url)
    summary = run_batch([_export(tmp_path / "wire.csv", rows)], store, executor="local")
    reg = summary.registered
    assert (reg.new, reg.duplicates, summary.analysed) == (2, 2, 2)  # one text analysed once, counted thrice
    by_outlet = {r["outlet"]: r for r in st.by_outlet(store, st.choose_scope(store))}
    assert set(by_outlet) == {"Wire Service", "Daily Herald", "Evening Post", "Canal+"}  # 'Canal+' is one outlet
    assert [by_outlet[o]["syndicated"] for o in ("Wire Service", "Daily Herald", "Evening Post", "Canal+")] == [
        1,
        1,
        1,
        0,
    ]
    assert by_outlet["Wire Service"]["spans"] == by_outlet["Evening Post"]["spans"]  # the one analysis, for each
    assert st.overview(store, st.choose_scope(store))["syndicated"] == 3


def test_a_row_is_its_id_field_and_its_own_source_wins_over_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "corpus" / "Folder Outlet"
    folder.mkdir(parents=True)
    path = folder / "rows.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["case", "url", "source", "text"])
        writer.writerow(["7", "https://x.test/a", "Row Outlet", "First text of the row."])
        writer.writerow(["8", "", "", "Second text of the row."])
    items = list(iter_items([tmp_path / "corpus"], Options(outlet_from_folder=True)))
    assert [it.key for it in items] == ["url=https://x.test/a", f"text:Folder Outlet:{items[1].document.fingerprint}"]
    assert [it.document.source for it in items] == ["Row Outlet", "Folder Outlet"]
    chosen = list(iter_items([path], Options(id_field="case")))
    assert [it.key for it in chosen] == ["case=7", "case=8"]


def test_a_truncated_feed_says_so(tmp_path: Path) -> None:
    whole = (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>T</title>"
        "<item><guid>a</guid><title>One</title><description>The first story is complete.</description></item>"
        "<item><guid>b</guid><title>Two</title><description>The second story was cut"
    )
    (tmp_path / "cut.rss").write_text(whole, encoding="utf-8")
    items = list(iter_items([tmp_path / "cut.rss"]))
    assert items[0].document is not None and items[0].key == "guid=a"
    assert all("feed is truncated or malformed" in it.error for it in items[1:])
    assert not any("text is empty" in (it.error or "") for it in items)


def test_batch_exits_non_zero_when_an_input_failed_and_counts_what_it_passed_over(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / ".git").mkdir(parents=True)
    (corpus / ".git" / "x.txt").write_text("hidden", encoding="utf-8")
    (corpus / "good.txt").write_text(ROWS[1][2], encoding="utf-8")
    (corpus / "notes.pdf").write_bytes(b"%PDF-1.4")
    (corpus / "cp1251.txt").write_bytes("Киевский режим снова лжёт, заявил министр.".encode("cp1251"))
    db = f"sqlite:///{tmp_path / 'b.db'}"
    res = CliRunner().invoke(app, ["batch", str(corpus), "--db", db, "--workers", "0"])
    assert res.exit_code == 0, res.output  # everything readable was read: the Cyrillic file too
    assert "files passed over: hidden folder (not read)" in res.output
    assert "files passed over: unknown extension .pdf" in res.output
    with Session(Store(db).engine) as s:
        meta = s.scalar(select(DocumentRow.metadata_json).where(DocumentRow.ref.endswith("cp1251.txt")))
    assert '"encoding": "cp1251"' in meta

    (corpus / "empty.txt").write_text("", encoding="utf-8")
    res = CliRunner().invoke(app, ["batch", str(corpus), "--db", db, "--workers", "0"])
    assert res.exit_code == 1 and "1 input(s) failed" in res.output and "file is empty" in res.output
    res = CliRunner().invoke(app, ["batch", str(corpus), "--db", db, "--workers", "0"])  # cron, the next hour
    assert res.exit_code == 1 and "1 input(s) failed" in res.output  # still failing: still said, and listed
    assert "file is empty (as in an earlier run)" in " ".join(res.output.split())


def test_a_database_from_before_identities_is_upgraded_and_an_old_export_stays_known(
    tmp_path: Path, db_url: str
) -> None:
    from sqlalchemy import create_engine, text

    from spinlens.document import Document
    from spinlens.store.schema import content_key

    export = _export(tmp_path / "export.csv", ROWS)
    loose = "A text file of its own, read from a folder before the upgrade."
    (tmp_path / "a.txt").write_text(loose, encoding="utf-8")
    engine = create_engine(db_url)
    with engine.begin() as c:  # the documents table as spinlens made it before identities, with rows keyed by line
        c.execute(
            text(
                f"CREATE TABLE documents (id {'SERIAL' if 'postgresql' in db_url else 'INTEGER'} PRIMARY KEY, ref_key VARCHAR(64) UNIQUE, ref TEXT, doc_id TEXT, "
                "fingerprint VARCHAR(64), content_key VARCHAR(64), duplicate_of INTEGER, title TEXT, "
                "outlet VARCHAR(300), url TEXT, published TIMESTAMP, published_is_date INTEGER, language VARCHAR(35), "
                "n_words INTEGER, text TEXT, metadata_json TEXT, added TIMESTAMP)"
            )
        )
        legacy = [(f"{export}:{line}", doc_id, source, body) for line, (doc_id, source, body) in enumerate(ROWS, 2)]
        legacy.append((str(tmp_path / "a.txt"), "a", None, loose))
        for ref, doc_id, source, body in legacy:
            doc = Document(id=doc_id, text=body, source=source)
            c.execute(
                text(
                    "INSERT INTO documents (ref_key, ref, doc_id, fingerprint, content_key, outlet, "
                    "published_is_date, n_words, text, metadata_json) VALUES "
                    "(:rk, :ref, :doc_id, :fp, :ck, :outlet, 0, :n, :text, '{}')"
                ),
                {
                    "rk": ref_key(ref),
                    "ref": ref,
                    "doc_id": doc_id,
                    "fp": doc.fingerprint,
                    "ck": content_key(body),
                    "outlet": source,
                    "n": len(body.split()),
                    "text": body,
                },
            )
    engine.dispose()
    store = Store(db_url)  # upgrades the table
    with Session(store.engine) as s:
        identities = sorted(s.scalars(select(DocumentRow.identity)))
    assert identities == sorted(["id=c1", "id=c2", "id=c3", f"file:{tmp_path / 'a.txt'}"])
    items = list(iter_items([_export(tmp_path / "export-2.csv", [NEW_ROW, *ROWS]), tmp_path / "a.txt"]))
    registered = store.register([(it.ref, it.document, it.error, it.key) for it in items])
    assert (registered.new, registered.known, registered.duplicates) == (1, 4, 0)  # only c4 is new
