"""A stored corpus as Parquet files (documents, analyses, spans), for pandas, DuckDB, Spark or R.

Streams each table in chunks with a fixed schema, so a corpus of millions is exported in flat memory.
Needs pyarrow (``pip install 'spinlens[parquet]'``; Ray's extra brings it too).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from spinlens.errors import SpinlensError
from spinlens.store.db import AnalysisRow, DocumentRow, SpanRow, Store


def _schemas():  # type: ignore[no-untyped-def]
    import pyarrow as pa

    ts = pa.timestamp("us", tz="UTC")
    return {
        "documents": (
            DocumentRow,
            pa.schema(
                [
                    ("id", pa.int64()),
                    ("ref", pa.string()),
                    ("doc_id", pa.string()),
                    ("duplicate_of", pa.int64()),
                    ("outlet", pa.string()),
                    ("title", pa.string()),
                    ("url", pa.string()),
                    ("published", ts),
                    ("language", pa.string()),
                    ("n_words", pa.int64()),
                    ("text", pa.string()),
                    ("metadata_json", pa.string()),
                ]
            ),
        ),
        "analyses": (
            AnalysisRow,
            pa.schema(
                [
                    ("id", pa.int64()),
                    ("document_id", pa.int64()),
                    ("model", pa.string()),
                    ("model_version", pa.string()),
                    ("scheme", pa.string()),
                    ("created", ts),
                    ("n_spans", pa.int64()),
                    ("propaganda_score", pa.float64()),
                    ("techniques_json", pa.string()),
                ]
            ),
        ),
        "spans": (
            SpanRow,
            pa.schema(
                [
                    ("id", pa.int64()),
                    ("analysis_id", pa.int64()),
                    ("start", pa.int64()),
                    ("end", pa.int64()),
                    ("technique", pa.string()),
                    ("score", pa.float64()),
                    ("snippet", pa.string()),
                ]
            ),
        ),
    }


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
    for name, (table, schema) in _schemas().items():
        columns = [getattr(table, field) for field in schema.names]
        n = 0
        with Session(store.engine) as s, pq.ParquetWriter(folder / f"{name}.parquet", schema) as writer:
            rows = s.execute(select(*columns).order_by(table.id).execution_options(yield_per=chunk))
            for part in rows.partitions():
                data = {field: [_utc(r[i]) for r in part] for i, field in enumerate(schema.names)}
                writer.write_table(pa.table(data, schema=schema))
                n += len(part)
        written[name] = n
    return written
