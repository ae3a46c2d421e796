"""One table of analyses, keyed by text fingerprint and model version: re-analysing the same text with the same
model returns the stored result. The schema is created on first use."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from sqlalchemy import DateTime, Float, Integer, String, Text, UniqueConstraint, create_engine, event, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from spinlens.document import Analysis


class _Base(DeclarativeBase):
    pass


class AnalysisRow(_Base):
    __tablename__ = "analyses"
    __table_args__ = (UniqueConstraint("fingerprint", "model", "model_version", name="one_result_per_text_and_model"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    model: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[str] = mapped_column(String(40))
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    title: Mapped[str | None] = mapped_column(String(500))
    source: Mapped[str | None] = mapped_column(String(500))
    n_spans: Mapped[int] = mapped_column(Integer)
    propaganda_score: Mapped[float | None] = mapped_column(Float)
    analysis_json: Mapped[str] = mapped_column(Text)


def default_url() -> str:
    """``$SPINLENS_DB``, else a SQLite file in the user's data directory."""
    if os.environ.get("SPINLENS_DB"):
        return os.environ["SPINLENS_DB"]
    from platformdirs import user_data_dir

    path = Path(user_data_dir("spinlens")) / "spinlens.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


class Store:
    def __init__(self, url: str | None = None) -> None:
        self.url = url or default_url()
        self.engine = create_engine(self.url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        _Base.metadata.create_all(self.engine)

    def find(self, fingerprint: str, model: str, model_version: str) -> tuple[int, Analysis] | None:
        with Session(self.engine) as s:
            row = s.scalar(
                select(AnalysisRow).where(
                    AnalysisRow.fingerprint == fingerprint,
                    AnalysisRow.model == model,
                    AnalysisRow.model_version == model_version,
                )
            )
            return (row.id, Analysis.from_json(row.analysis_json)) if row else None

    def save(self, analysis: Analysis) -> int:
        """Store an analysis (or return the id of the one already stored for this text and model)."""
        found = self.find(analysis.document.fingerprint, analysis.model, analysis.model_version)
        if found:
            return found[0]
        doc = analysis.document
        row = AnalysisRow(
            fingerprint=doc.fingerprint,
            model=analysis.model,
            model_version=analysis.model_version,
            title=(doc.title or doc.text.lstrip("\ufeff").strip().split("\n", 1)[0])[:500],
            source=doc.source,
            n_spans=len(analysis.spans),
            propaganda_score=analysis.propaganda_score,
            analysis_json=analysis.to_json(),
        )
        with Session(self.engine) as s:
            s.add(row)
            s.commit()
            return row.id

    def get(self, analysis_id: int) -> Analysis | None:
        with Session(self.engine) as s:
            row = s.get(AnalysisRow, analysis_id)
            return Analysis.from_json(row.analysis_json) if row else None

    def list(self, limit: int = 50, offset: int = 0) -> list[dict]:
        with Session(self.engine) as s:
            rows = s.scalars(select(AnalysisRow).order_by(AnalysisRow.id.desc()).limit(limit).offset(offset))
            return [
                {
                    "id": r.id,
                    "title": r.title,
                    "source": r.source,
                    "created": r.created.isoformat() if r.created else None,
                    "n_spans": r.n_spans,
                    "propaganda_score": r.propaganda_score,
                    "model": r.model,
                    "model_version": r.model_version,
                }
                for r in rows
            ]


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
    cursor.close()
