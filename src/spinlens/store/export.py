"""A stored corpus as Parquet files (documents, analyses, spans), for pandas, DuckDB, Spark or R.

Streams each table in chunks with a fixed schema, so a corpus of millions is exported in flat memory.
Needs pyarrow (``pip install 'spinlens[parquet]'``; Ray's extra brings it too).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import DateTime, Float, Integer, select
from sqlalchemy.orm import Session

from spinlens.errors import SpinlensError
from spinlens.store.db import Store
from spinlens.store.schema import AnalysisRow, DocumentRow, SpanRow

# the columns exported per table, in order (identity keys and internal flags stay in the database)
EXPORTED = {
    "documents": (
        DocumentRow,
        (
            "id",
            "ref",
            "doc_id",
            "duplicate_of",
            "outlet",
            "title",
            "url",
            "published",
            "language",
            "n_words",
            "text",
            "metadata_json",
        ),
    ),
    "analyses": (
        AnalysisRow,
        (
            "id",
            "document_id",
            "model",
            "model_version",
            "scheme",
            "created",
            "n_spans",
            "propaganda_score",
            "techniques_json",
        ),
    ),
    "spans": (
        SpanRow,
        (
            "id",
            "analysis_id",
            "start",
            "end",
            "technique",
            "score",
            "span_confidence",
            "technique_confidence",
            "snippet",
        ),
    ),
}


def _schema(table, names: tuple[str, ...]):  # type: ignore[no-untyped-def]
    """The Parquet schema of these columns, from their SQL types."""
    import pyarrow as pa

    def arrow_type(column):  # type: ignore[no-untyped-def]
        if isinstance(column.type, Integer):
            return pa.int64()
        if isinstance(column.type, Float):
            return pa.float64()
        if isinstance(column.type, DateTime):
            return pa.timestamp("us", tz="UTC")
        return pa.string()

    return pa.schema([(name, arrow_type(table.__table__.columns[name])) for name in names])


def _utc(value: object) -> object:
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)  # SQLite hands back naive datetimes; they were stored as given
    return value


def export_parquet(store: Store, folder: str | Path, chunk: int = 5_000) -> dict[str, int]:
    """Write ``documents.parquet``, ``analyses.parquet`` and ``spans.parquet``; returns rows written per table."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise SpinlensError("Parquet export needs pyarrow: pip install 'spinlens[parquet]'") from None
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, (table, names) in EXPORTED.items():
        schema = _schema(table, names)
        columns = [getattr(table, field) for field in names]
        n = 0
        with Session(store.engine) as s, pq.ParquetWriter(folder / f"{name}.parquet", schema) as writer:
            rows = s.execute(select(*columns).order_by(table.id).execution_options(yield_per=chunk))
            for part in rows.partitions():
                data = {field: [_utc(r[i]) for r in part] for i, field in enumerate(schema.names)}
                writer.write_table(pa.table(data, schema=schema))
                n += len(part)
        written[name] = n
    return written
