"""An analysis's language, notes and narrative matches in SQL, beside its spans (`spinlens.store.db`).

Two tables of their own, filled and read by `Store` through the three hooks at the end of this module:
- ``analysis_languages``: one row per analysis: the detected language, the notes shown to readers, and the
  catalogues its sentences were matched against (so that "matched against euvsdisinfo, nothing found" is told apart
  from "never matched"). An analysis stored before languages were detected has no row: language None, no notes.
- ``narrative_matches``: one row per match (a sentence and a claim), with the claim's title and link copied, so
  that removing a catalogue later leaves what was found then readable.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, and_, delete, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from spinlens.document import Analysis, NarrativeMatch
from spinlens.language import TECHNIQUE_LANGUAGES
from spinlens.store.schema import SNIPPET_CHARS, AnalysisRow, Base


class AnalysisLanguageRow(Base):
    __tablename__ = "analysis_languages"

    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id"), primary_key=True, autoincrement=False)
    language: Mapped[str | None] = mapped_column(String(16), index=True)
    notes_json: Mapped[str] = mapped_column(Text, default="[]")
    catalogues_json: Mapped[str] = mapped_column(Text, default="[]")  # names matched against, sorted


class NarrativeMatchRow(Base):
    __tablename__ = "narrative_matches"
    __table_args__ = (Index("narrative_matches_by_claim", "catalogue", "claim_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id"), index=True)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    catalogue: Mapped[str] = mapped_column(String(200))
    claim_id: Mapped[str] = mapped_column(String(1000))
    title: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    date: Mapped[str | None] = mapped_column(String(40))
    verdict: Mapped[str | None] = mapped_column(String(200))
    score: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    relation: Mapped[str] = mapped_column(String(10))
    snippet: Mapped[str] = mapped_column(Text)


def not_read_for_techniques():  # type: ignore[no-untyped-def]
    """SQL: the analysis is of a text in a language the technique model cannot read, and no technique was looked
    for (an analysis stored before languages were detected, or made elsewhere, has no language: it counts)."""
    return (
        select(AnalysisLanguageRow.analysis_id)
        .where(
            AnalysisLanguageRow.analysis_id == AnalysisRow.id, _other_language(), AnalysisRow.techniques_json == "[]"
        )
        .correlate(AnalysisRow)
        .exists()
    )


def _other_language():  # type: ignore[no-untyped-def]
    return AnalysisLanguageRow.language.not_in(sorted(TECHNIQUE_LANGUAGES))


def read_for_techniques():  # type: ignore[no-untyped-def]
    """SQL, where ``analysis_languages`` is joined already (outer): the opposite of `not_read_for_techniques`."""
    return ~and_(AnalysisLanguageRow.language.isnot(None), _other_language(), AnalysisRow.techniques_json == "[]")


def catalogues_of(analysis: Analysis) -> list[str]:
    """The catalogues an analysis was matched against (`Analysis` does not say; its matches and the key do)."""
    return sorted({m.catalogue for m in analysis.narratives})


def insert_rows(s: Session, analysis_id: int, analysis: Analysis, catalogues: Sequence[str] = ()) -> None:
    """Store an analysis's language, notes and matches (the `Store._insert_analysis` hook)."""
    checked = sorted(set(catalogues) | set(catalogues_of(analysis)))
    s.execute(
        insert(AnalysisLanguageRow).values(
            analysis_id=analysis_id,
            language=analysis.language,
            notes_json=json.dumps(list(analysis.notes), ensure_ascii=False),
            catalogues_json=json.dumps(checked, ensure_ascii=False),
        )
    )
    _insert_matches(s, analysis_id, analysis)


def _insert_matches(s: Session, analysis_id: int, analysis: Analysis) -> None:
    text = analysis.document.text
    if analysis.narratives:
        s.execute(
            insert(NarrativeMatchRow),
            [
                {
                    "analysis_id": analysis_id,
                    **m.model_dump(),
                    "snippet": text[m.start : m.end][:SNIPPET_CHARS],
                }
                for m in analysis.narratives
            ],
        )


def load_rows(s: Session, analysis_id: int) -> dict:
    """``language``, ``notes`` and ``narratives`` of a stored analysis (the `Store.get` hook)."""
    row = s.get(AnalysisLanguageRow, analysis_id)
    matches = s.scalars(
        select(NarrativeMatchRow).where(NarrativeMatchRow.analysis_id == analysis_id).order_by(NarrativeMatchRow.id)
    )
    return {
        "language": row.language if row else None,
        "notes": json.loads(row.notes_json) if row else [],
        "narratives": [NarrativeMatch.model_validate(m, from_attributes=True) for m in matches],
    }


def delete_rows(s: Session, analysis_id: int) -> None:
    """Remove them with their analysis (the `Store.delete` hook)."""
    s.execute(delete(NarrativeMatchRow).where(NarrativeMatchRow.analysis_id == analysis_id))
    s.execute(delete(AnalysisLanguageRow).where(AnalysisLanguageRow.analysis_id == analysis_id))


def checked_catalogues(store, analysis_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    """The catalogues a stored analysis was matched against."""
    with Session(store.engine) as s:
        row = s.get(AnalysisLanguageRow, analysis_id)
        return json.loads(row.catalogues_json) if row else []


def replace_narratives(store, analysis_id: int, analysis: Analysis, catalogues: Sequence[str]) -> None:  # type: ignore[no-untyped-def]
    """A stored analysis matched again, against ``catalogues``: its matches from them replace the old ones; its
    language and notes are brought up to date (an analysis stored before languages were detected gets them)."""
    with Session(store.engine) as s, s.begin():
        row = s.get(AnalysisLanguageRow, analysis_id)
        checked = sorted(set(json.loads(row.catalogues_json) if row else []) | set(catalogues))
        s.execute(
            delete(NarrativeMatchRow).where(
                NarrativeMatchRow.analysis_id == analysis_id, NarrativeMatchRow.catalogue.in_(list(catalogues))
            )
        )
        if row is None:
            s.add(AnalysisLanguageRow(analysis_id=analysis_id))
            s.flush()
            row = s.get(AnalysisLanguageRow, analysis_id)
        assert row is not None
        row.language = analysis.language
        row.notes_json = json.dumps(list(analysis.notes), ensure_ascii=False)
        row.catalogues_json = json.dumps(checked, ensure_ascii=False)
        fresh = analysis.model_copy(
            update={"narratives": [m for m in analysis.narratives if m.catalogue in catalogues]}
        )
        _insert_matches(s, analysis_id, fresh)
