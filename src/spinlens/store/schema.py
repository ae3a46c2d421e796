"""The store's tables (SQLAlchemy) and their upgrades: what a document, an analysis, a span, a failure and a batch
run are in SQL, the keys rows are found by, and how an older database gets today's columns.

`spinlens.store.db.Store` reads and writes these rows; other concerns (review, narratives, monitoring) put their
own tables on the same `Base`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import time
import unicodedata

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from spinlens.document import Document, Span
from spinlens.errors import SpinlensError

SNIPPET_CHARS = 300  # span text kept for phrase statistics; offsets into the full text are exact


class Base(DeclarativeBase):
    pass


class DocumentRow(Base):
    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # sha256 of the identity (version 1) or of identity NUL version: one row per version of an item, enforced
    ref_key: Mapped[str] = mapped_column(String(64), unique=True)
    ref: Mapped[str] = mapped_column(Text)  # where it was read (file.csv:12), for people
    # schema change (issue 22): identity, version and superseded_by; older databases get them (`_add_identity_columns`)
    identity: Mapped[str | None] = mapped_column(Text)  # what it is: id=123, url=..., file:/path, text:OUTLET:SHA256
    identity_key: Mapped[str | None] = mapped_column(String(64), index=True)  # sha256 of `identity`
    version: Mapped[int] = mapped_column(Integer, default=1)
    superseded_by: Mapped[int | None] = mapped_column(ForeignKey("documents.id"), index=True)  # its next version
    doc_id: Mapped[str] = mapped_column(Text)  # Document.id as given by the source
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)  # exact text
    content_key: Mapped[str] = mapped_column(String(64), index=True)  # normalised text
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("documents.id"), index=True)
    title: Mapped[str | None] = mapped_column(Text)
    outlet: Mapped[str | None] = mapped_column(String(300), index=True)
    url: Mapped[str | None] = mapped_column(Text)
    published: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    published_is_date: Mapped[int] = mapped_column(Integer, default=0)
    language: Mapped[str | None] = mapped_column(String(35))
    n_words: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    metadata_json: Mapped[str] = mapped_column(Text, default="{}")
    added: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AnalysisRow(Base):
    __tablename__ = "analyses"
    __table_args__ = (UniqueConstraint("document_id", "model", "model_version", name="one_analysis_per_model"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    model: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[str] = mapped_column(String(40))
    scheme: Mapped[str] = mapped_column(String(20))
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    n_spans: Mapped[int] = mapped_column(Integer)
    propaganda_score: Mapped[float | None] = mapped_column(Float)
    techniques_json: Mapped[str] = mapped_column(Text)  # article-level verdicts


class SpanColumns:
    """What is stored of a span: the model's (`SpanRow`) and a corrected one (`spinlens.review.tables`) alike."""

    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    technique: Mapped[str] = mapped_column(String(60))
    score: Mapped[float | None] = mapped_column(Float)
    span_confidence: Mapped[float | None] = mapped_column(Float)
    technique_confidence: Mapped[float | None] = mapped_column(Float)
    snippet: Mapped[str] = mapped_column(Text)

    @staticmethod
    def values(span: Span, text: str) -> dict:
        """The columns of ``span`` of ``text``."""
        return {
            "start": span.start,
            "end": span.end,
            "technique": span.technique,
            "score": span.score,
            "span_confidence": span.span_confidence,
            "technique_confidence": span.technique_confidence,
            "snippet": text[span.start : span.end][:SNIPPET_CHARS],
        }


class SpanRow(SpanColumns, Base):
    __tablename__ = "spans"
    __table_args__ = (Index("spans_by_technique", "technique", "analysis_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id"), index=True)


class FailureRow(Base):
    """An input that could not be read, or a document that could not be analysed, with the reason."""

    __tablename__ = "failures"
    __table_args__ = (UniqueConstraint("ref_key", "stage", "model_version", name="one_failure_per_stage"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ref_key: Mapped[str] = mapped_column(String(64))
    ref: Mapped[str] = mapped_column(Text)
    stage: Mapped[str] = mapped_column(String(20))  # "read" or "analyse"
    model_version: Mapped[str] = mapped_column(String(40), default="")
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RunRow(Base):
    """The batch run that holds this database (one at a time: `Store.lock_run`)."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # always 1: the lock itself
    token: Mapped[str] = mapped_column(String(32))  # this run's, so that it releases only its own lock
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(255))
    started: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    heartbeat: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))  # renewed while the run lives


def ref_key(ref: str) -> str:
    return hashlib.sha256(ref.encode("utf-8", "surrogatepass")).hexdigest()


def version_key(identity: str, version: int) -> str:
    """`DocumentRow.ref_key` of one version of an item: version 1's is the identity's own key."""
    return ref_key(identity if version == 1 else f"{identity}\x00{version}")


_SPACE = re.compile(r"\s+")


def content_key(text: str) -> str:
    """Identity of a text up to Unicode form, case and whitespace: the same wire story in two outlets matches."""
    normal = _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()
    return hashlib.sha256(normal.encode("utf-8", "surrogatepass")).hexdigest()


def unstorable(text: str) -> str | None:
    """Why a text cannot go into SQL databases, if it cannot: PostgreSQL refuses NUL, drivers lone surrogates."""
    if "\x00" in text:
        return "text contains NUL characters (binary data?)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"text contains an unpaired surrogate at character {exc.start} (broken \\u escapes?)"
    return None


def count_words(text: str) -> int:
    return len(text.split())


def _document_row(doc: Document, ref: str, key: str, ckey: str, original: int | None) -> DocumentRow:
    published = doc.published
    is_date = isinstance(published, dt.date) and not isinstance(published, dt.datetime)
    if is_date:
        published = dt.datetime.combine(published, dt.time())  # type: ignore[arg-type]
    return DocumentRow(
        ref_key=key,
        ref=ref,
        doc_id=doc.id,
        fingerprint=doc.fingerprint,
        content_key=ckey,
        duplicate_of=original,
        title=doc.title,
        outlet=doc.source,
        url=doc.url,
        published=published,
        published_is_date=int(is_date),
        language=doc.language,
        n_words=count_words(doc.text),
        text=doc.text,
        metadata_json=json.dumps(doc.metadata, ensure_ascii=False, default=str),
    )


def _document(row: DocumentRow) -> Document:
    published: dt.date | dt.datetime | None = row.published
    if published is not None and row.published_is_date:
        published = published.date()
    return Document(
        id=row.doc_id,
        text=row.text,
        title=row.title,
        source=row.outlet,
        url=row.url,
        published=published,
        language=row.language,
        metadata=json.loads(row.metadata_json or "{}"),
    )


def _add_confidence_columns(engine) -> None:  # type: ignore[no-untyped-def]
    """Databases made before spans had two confidences get the two (empty) columns; their old spans keep a score."""
    from sqlalchemy import inspect, text

    columns = {c["name"] for c in inspect(engine).get_columns("spans")}
    with engine.begin() as conn:
        for name in ("span_confidence", "technique_confidence"):
            if name not in columns:
                conn.execute(text(f"ALTER TABLE spans ADD COLUMN {name} FLOAT"))


def _add_identity_columns(engine) -> None:  # type: ignore[no-untyped-def]
    """Schema change of issue 22: databases made before documents had an identity and versions get the columns,
    and each document the identity the readers now give it (`legacy_identity`), as version 1, so that re-reading an
    old export after the upgrade finds its rows known instead of adding them again."""
    from sqlalchemy import inspect, text

    columns = {c["name"] for c in inspect(engine).get_columns("documents")}
    if "identity_key" in columns:
        return
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE documents ADD COLUMN identity TEXT"))
        conn.execute(text("ALTER TABLE documents ADD COLUMN identity_key VARCHAR(64)"))
        conn.execute(text("ALTER TABLE documents ADD COLUMN version INTEGER DEFAULT 1"))
        conn.execute(text("ALTER TABLE documents ADD COLUMN superseded_by INTEGER REFERENCES documents(id)"))
        rows = conn.execute(text("SELECT id, ref, doc_id, url, outlet, fingerprint FROM documents")).all()
        seen: set[str] = set()
        for row_id, ref, doc_id, url, outlet, fingerprint in rows:
            identity = legacy_identity(ref, doc_id, url, outlet, fingerprint)
            if identity in seen:  # two old rows that are one item now (a feed saved twice): the later keeps its ref
                identity = ref
            seen.add(identity)
            conn.execute(
                text("UPDATE documents SET identity = :i, identity_key = :k, version = 1 WHERE id = :id"),
                {"i": identity, "k": ref_key(identity), "id": row_id},
            )
        conn.execute(text("CREATE INDEX IF NOT EXISTS ix_documents_identity_key ON documents (identity_key)"))
        conn.execute(text("CREATE INDEX IF NOT EXISTS ix_documents_superseded_by ON documents (superseded_by)"))


_TABLE_ROW = re.compile(r"\.(?:csv|jsonl|ndjson):\d+$", re.IGNORECASE)
_FEED_ENTRY = re.compile(r"\.(?:rss|atom|xml)#(.+)$", re.IGNORECASE | re.DOTALL)


def legacy_identity(ref: str, doc_id: str, url: str | None, outlet: str | None, fingerprint: str) -> str:
    """The identity (`spinlens.sources.identity`) of a document registered, before identities, under ``ref``: a
    row's id (or URL, or text), a feed entry's GUID or link, an absolute file path; else the old reference."""
    from spinlens.sources.identity import value_key

    if _TABLE_ROW.search(ref):
        default_id = ref.rsplit("/", 1)[-1]  # what a row without an id was called
        if doc_id != default_id and (key := value_key("id", doc_id)):
            return key
        return value_key("url", url) or f"text:{outlet or ''}:{fingerprint}"
    if found := _FEED_ENTRY.search(ref):
        return value_key("guid", found.group(1)) or ref
    return f"file:{ref}" if os.path.isabs(ref) else ref


def _create_tables(engine, attempts: int = 5) -> None:  # type: ignore[no-untyped-def]
    """Create what is missing; two processes doing it at once make one fail ("already exists"): look again."""
    from spinlens.narratives import stored  # noqa: F401 - its tables
    from spinlens.review import tables  # noqa: F401 - its tables

    for attempt in range(attempts):
        try:
            Base.metadata.create_all(engine)
            _add_confidence_columns(engine)
            _add_identity_columns(engine)
            return
        except (OperationalError, ProgrammingError, IntegrityError) as exc:
            if attempt == attempts - 1:
                where = engine.url.render_as_string(hide_password=True)
                raise SpinlensError(f"{where}: could not create the tables: {str(exc.orig).strip()}") from None
            time.sleep(0.2 * (attempt + 1))


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # SQLite gives back naive UTC


def _refuse_old_schema(engine, url: str) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import inspect

    tables = inspect(engine)
    if "analyses" in tables.get_table_names():
        columns = {c["name"] for c in tables.get_columns("analyses")}
        if "document_id" not in columns:
            raise SpinlensError(
                f"{engine.url.render_as_string(hide_password=True)}: this database has the single-table layout of "
                "spinlens 0.1 (no documents table); move it aside or pass another --db"
            )


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
    cursor.execute("PRAGMA busy_timeout=30000")  # a second writer waits instead of failing
    # with WAL, NORMAL cannot corrupt the database; a power loss (not a killed process) may undo the last commits,
    # which `spinlens batch` redoes on its rerun. One fsync less per commit: 30 saves 0.27-0.65 s instead of 0.8-1.0
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
