"""The review in the store (tables of its own on `spinlens.store.db.Base`): the "review complete" mark, and the
corrected state kept for statistics.

- ``reviews``: a person sets the mark (the page, ``POST /api/analyses/{id}/review-complete``, or a submitted Label
  Studio annotation) to say "every span of this article has been looked at": from then on the spans the model did
  not find count as absent, and the article may go into a training set. Clearing it (``DELETE``) takes that back.
- ``corrected_analyses`` and ``corrected_spans``: the corrected state (`spinlens.review.state.review`) of every
  analysis people corrected, written whenever corrections are stored (`refresh`), so that corpus statistics
  count it in SQL (`spans_now`, `score_now`) as they count the model's spans of the others.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, Text, delete, exists, func, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from spinlens.corrections import Correction, CorrectionIn, Kind
from spinlens.errors import InputError, SpinlensError
from spinlens.review.state import Reviewed, ReviewMark, review
from spinlens.store.schema import AnalysisRow, Base, DocumentRow, SpanColumns, SpanRow

if TYPE_CHECKING:
    from spinlens.store.db import Store


class CorrectionRow(Base):
    """What a person said about a model's span (or a span it missed); `spinlens.corrections` says what follows."""

    __tablename__ = "corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id"), index=True)
    model: Mapped[str] = mapped_column(String(100))  # the model and version whose output is corrected
    model_version: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(10))
    span: Mapped[int | None] = mapped_column(Integer)  # index into the analysis's spans (in id order)
    added: Mapped[int | None] = mapped_column(Integer)  # an earlier "add" correction, withdrawn by a reject
    start: Mapped[int | None] = mapped_column(Integer)
    end: Mapped[int | None] = mapped_column(Integer)
    techniques: Mapped[str] = mapped_column(Text, default="")  # PTC ids joined by "|"
    author: Mapped[str] = mapped_column(String(200))
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ReviewRow(Base):
    """One row per analysis whose review a person marked complete."""

    __tablename__ = "reviews"

    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id"), primary_key=True, autoincrement=False)
    author: Mapped[str] = mapped_column(String(200))
    marked: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class CorrectedAnalysisRow(Base):
    """The corrected article-level numbers of an analysis people corrected."""

    __tablename__ = "corrected_analyses"

    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id"), primary_key=True, autoincrement=False)
    n_spans: Mapped[int] = mapped_column(Integer)
    propaganda_score: Mapped[float | None] = mapped_column(Float)


class CorrectedSpanRow(SpanColumns, Base):
    """One span (one technique) of the corrected state, stored as `SpanRow` stores the model's."""

    __tablename__ = "corrected_spans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id"), index=True)


def mark_complete(store: Store, analysis_ids: Iterable[int], author: str) -> tuple[list[ReviewMark], int]:
    """Mark these analyses reviewed by ``author`` now (a mark set before is renewed): "I looked at every span".

    The model spans nobody has reviewed yet are accepted by ``author`` (as when a Label Studio task is submitted
    with its predicted regions left as they are), so that every span of a complete review has a person's decision.
    Returns the marks and the number of spans so accepted; `InputError` for an unknown id (nothing stored).
    """
    ids = list(dict.fromkeys(analysis_ids))
    accepts: dict[int, list[CorrectionIn]] = {}
    for analysis_id in ids:
        reviewed = load(store, analysis_id)
        if reviewed is None:
            raise InputError(f"no analysis {analysis_id}")
        left = [s.origin for s in reviewed.spans if s.status == "model" and s.origin is not None]
        if left:
            accepts[analysis_id] = [CorrectionIn(kind=Kind.accept, span=i) for i in left]
    accepted = store.add_corrections(accepts, author) if accepts else []
    now = dt.datetime.now(dt.UTC)
    with Session(store.engine) as s, s.begin():
        if len(set(s.scalars(select(AnalysisRow.id).where(AnalysisRow.id.in_(ids))))) != len(ids):
            raise InputError("an analysis was deleted meanwhile")
        s.execute(delete(ReviewRow).where(ReviewRow.analysis_id.in_(ids)))
        s.add_all(ReviewRow(analysis_id=i, author=author[:200], marked=now) for i in ids)
    return [ReviewMark(analysis_id=i, author=author[:200], marked=now) for i in ids], len(accepted)


def clear_complete(store: Store, analysis_id: int) -> bool:
    """Take the mark back; False when there was none."""
    with Session(store.engine) as s, s.begin():
        return bool(s.execute(delete(ReviewRow).where(ReviewRow.analysis_id == analysis_id)).rowcount)


def marks(store: Store, analysis_ids: Iterable[int] | None = None) -> dict[int, ReviewMark]:
    """The marks of these analyses (all of them with None), by analysis id."""
    q = select(ReviewRow)
    if analysis_ids is not None:
        q = q.where(ReviewRow.analysis_id.in_(list(analysis_ids)))
    with Session(store.engine) as s:
        return {
            r.analysis_id: ReviewMark(analysis_id=r.analysis_id, author=r.author, marked=_utc(r.marked))
            for r in s.scalars(q)
        }


def forget(session: Session, analysis_id: int) -> None:
    """Remove an analysis's corrections, mark and corrected state (with the analysis itself: `Store.delete`)."""
    for table in (CorrectionRow, ReviewRow, CorrectedSpanRow, CorrectedAnalysisRow):
        session.execute(delete(table).where(table.analysis_id == analysis_id))


def refresh(store: Store, analysis_ids: Iterable[int]) -> None:
    """Write the corrected state of these analyses (after their corrections changed).

    Two reviewers correcting one analysis at once refresh it at once: each writes only the state of the corrections
    that are there when it writes (holding the analysis's row), else reads them again, so the last state wins.
    """
    for analysis_id in dict.fromkeys(analysis_ids):
        for attempt in range(5):
            try:
                _write_state(store, analysis_id)
                break
            except (IntegrityError, _Changed):  # another writer was quicker: read the corrections again
                pass
            if attempt == 4:
                raise SpinlensError(f"analysis {analysis_id}: its corrected state kept changing; run the command again")


def _write_state(store: Store, analysis_id: int) -> None:
    """Write one analysis's corrected state; `_Changed` (nothing written) when its corrections changed meanwhile."""
    reviewed = load(store, analysis_id)
    with Session(store.engine) as s, s.begin():
        # one writer at a time: PostgreSQL locks the analysis's row first (always first: no deadlock); SQLite's
        # first write (the delete) takes the database's lock, and what is read after it is the latest
        s.execute(select(AnalysisRow.id).where(AnalysisRow.id == analysis_id).with_for_update())
        for table in (CorrectedSpanRow, CorrectedAnalysisRow):
            s.execute(delete(table).where(table.analysis_id == analysis_id))
        latest = s.scalar(select(func.max(CorrectionRow.id)).where(CorrectionRow.analysis_id == analysis_id))
        expected = max((c.id for c in reviewed.corrections), default=None) if reviewed else None
        if latest != expected:
            raise _Changed  # rolls the deletes back
        if reviewed is None or not reviewed.corrected:
            return
        text = reviewed.model.document.text
        s.add(
            CorrectedAnalysisRow(
                analysis_id=analysis_id,
                n_spans=len(reviewed.analysis.spans),
                propaganda_score=reviewed.analysis.propaganda_score,
            )
        )
        s.add_all(
            CorrectedSpanRow(analysis_id=analysis_id, **SpanColumns.values(sp, text)) for sp in reviewed.analysis.spans
        )


class _Changed(Exception):
    """The corrections of an analysis changed while its corrected state was being written."""


def stale(store: Store) -> list[int]:
    """Analyses with corrections but no corrected state kept (corrected before this table existed)."""
    q = select(CorrectionRow.analysis_id).distinct()
    q = q.where(~exists().where(CorrectedAnalysisRow.analysis_id == CorrectionRow.analysis_id))
    with Session(store.engine) as s:
        return list(s.scalars(q))


def spans_now():  # type: ignore[no-untyped-def]
    """`SpanRow` as people left it: the model's spans of analyses nobody corrected, the corrected spans of the
    others. Use it where `SpanRow` would be used (``spans_now().technique``, joins on ``.analysis_id``)."""
    columns = ("id", "analysis_id", "start", "end", "technique", "score", "span_confidence", "technique_confidence")
    corrected = exists().where(CorrectedAnalysisRow.analysis_id == SpanRow.analysis_id)
    model = select(*(getattr(SpanRow, c) for c in columns), SpanRow.snippet).where(~corrected)
    people = select(*(getattr(CorrectedSpanRow, c) for c in columns), CorrectedSpanRow.snippet)
    return aliased(SpanRow, union_all(model, people).subquery("spans_now"), adapt_on_names=True)


def score_now():  # type: ignore[no-untyped-def]
    """The analysis's score as people left it (join `CorrectedAnalysisRow` with an outer join)."""
    return func.coalesce(CorrectedAnalysisRow.propaganda_score, AnalysisRow.propaganda_score)


def n_spans_now():  # type: ignore[no-untyped-def]
    """The analysis's number of spans as people left it (join `CorrectedAnalysisRow` with an outer join)."""
    return func.coalesce(CorrectedAnalysisRow.n_spans, AnalysisRow.n_spans)


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # SQLite gives back naive UTC


def load(store: Store, analysis_id: int) -> Reviewed | None:
    """A stored analysis as reviewed (`spinlens.review.state.review`); None when there is no such analysis."""
    analysis = store.get(analysis_id)
    if analysis is None:
        return None
    mark = marks(store, [analysis_id]).get(analysis_id)
    return review(analysis, store.corrections(analysis_id), mark, analysis_id)


def decided_ids(store: Store) -> list[int]:
    """Analyses where a person decided something: a correction, or a "review complete" mark."""
    with Session(store.engine) as s:
        ids = set(s.scalars(select(CorrectionRow.analysis_id).distinct()))
        ids |= set(s.scalars(select(ReviewRow.analysis_id)))
    return sorted(ids)


def chosen(store: Store, ids: list[int] | None = None, query: str | None = None) -> Iterator[Reviewed]:
    """Stored analyses as reviewed: these ids (`InputError` for one that is not there), else those whose title or
    text contains ``query`` (as the history's search), else all of them; by id."""
    if ids:
        wanted = sorted(set(ids))
    else:
        q = select(AnalysisRow.id).order_by(AnalysisRow.id)
        if query and query.strip():
            found = {r["id"] for r in store.search(query, limit=2**31 - 1)}
            q = q.where(AnalysisRow.id.in_(found))
        with Session(store.engine) as s:
            wanted = list(s.scalars(q))
    from spinlens.progress import progress

    for analysis_id in progress(wanted, "reading analyses", total=len(wanted)):  # a bar on a terminal
        reviewed = load(store, analysis_id)
        if reviewed is None:
            raise InputError(f"no analysis {analysis_id}")
        yield reviewed


def as_left(store: Store, rows: list[dict]) -> list[dict]:
    """History rows (`Store.search`) with the corrected number of spans and score of those people corrected, and
    ``corrected`` / ``review_complete`` flags."""
    ids = [r["id"] for r in rows]
    with Session(store.engine) as s:
        corrected = {
            a: (n, score)
            for a, n, score in s.execute(
                select(
                    CorrectedAnalysisRow.analysis_id,
                    CorrectedAnalysisRow.n_spans,
                    CorrectedAnalysisRow.propaganda_score,
                ).where(CorrectedAnalysisRow.analysis_id.in_(ids))
            )
        }
        complete = set(s.scalars(select(ReviewRow.analysis_id).where(ReviewRow.analysis_id.in_(ids))))
    out = []
    for r in rows:
        n, score = corrected.get(r["id"], (r["n_spans"], r["propaganda_score"]))
        out.append(
            r
            | {
                "n_spans": n,
                "propaganda_score": score,
                "corrected": r["id"] in corrected,
                "review_complete": r["id"] in complete,
            }
        )
    return out


def add_corrections(
    store: Store, corrections: dict[int, Sequence[CorrectionIn]], author: str | dict[int, str] = "local"
) -> list[Correction]:
    """Store corrections of many analyses (by analysis id) in one transaction: all, or none on `InputError`.

    ``author`` is one name for all, or one per analysis id.
    """
    now = dt.datetime.now(dt.UTC)
    with Session(store.engine) as s, s.begin():
        rows = []
        for analysis_id, items in corrections.items():
            row = s.get(AnalysisRow, analysis_id)
            if row is None:
                raise InputError(f"no analysis {analysis_id}")
            n_spans = s.scalar(select(func.count()).where(SpanRow.analysis_id == analysis_id)) or 0
            n_chars = s.scalar(select(func.length(DocumentRow.text)).where(DocumentRow.id == row.document_id)) or 0
            for c in items:
                if c.span is not None and c.span >= n_spans:
                    raise InputError(f"analysis {analysis_id} has {n_spans} spans; there is no span {c.span}")
                if c.end is not None and c.end > n_chars:
                    raise InputError(f"end {c.end} is past the text's {n_chars} characters (analysis {analysis_id})")
                target = s.get(CorrectionRow, c.added) if c.added is not None else None
                if c.added is not None and (
                    target is None or target.analysis_id != analysis_id or target.kind != "add"
                ):
                    raise InputError(f"correction {c.added} is not a span added to analysis {analysis_id}")
                name = author if isinstance(author, str) else author.get(analysis_id, "local")
                rows.append(
                    CorrectionRow(
                        analysis_id=analysis_id,
                        model=row.model,
                        model_version=row.model_version,
                        kind=c.kind.value,
                        span=c.span,
                        added=c.added,
                        start=c.start,
                        end=c.end,
                        techniques="|".join(c.techniques),
                        author=name[:200],
                        created=now,
                    )
                )
        s.add_all(rows)
        s.flush()
        stored = [_correction(r) for r in rows]
    refresh(store, list(corrections))  # the corrected state that statistics count
    return stored


def corrections(store: Store, analysis_id: int) -> list[Correction]:
    """Every correction of an analysis, in the order made."""
    with Session(store.engine) as s:
        rows = s.scalars(
            select(CorrectionRow).where(CorrectionRow.analysis_id == analysis_id).order_by(CorrectionRow.id)
        )
        return [_correction(r) for r in rows]


def _correction(row: CorrectionRow) -> Correction:
    return Correction(
        id=row.id,
        analysis_id=row.analysis_id,
        model=row.model,
        model_version=row.model_version,
        kind=Kind(row.kind),
        span=row.span,
        added=row.added,
        start=row.start,
        end=row.end,
        techniques=[t for t in row.techniques.split("|") if t],
        author=row.author,
        created=_utc(row.created) if row.created else dt.datetime.now(dt.UTC),
    )
