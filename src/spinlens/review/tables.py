"""The "review complete" mark of an analysis in the store (its own table on `spinlens.store.db.Base`).

A person sets it (the page, ``POST /api/analyses/{id}/review-complete``, or a submitted Label Studio annotation)
to say "every span of this article has been looked at": from then on the spans the model did not find count as
absent, and the article may go into a training set. Clearing it (``DELETE``) takes that back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

from sqlalchemy import DateTime, ForeignKey, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from spinlens.corrections import CorrectionIn, Kind
from spinlens.errors import InputError
from spinlens.review.state import Reviewed, ReviewMark, review
from spinlens.store.db import AnalysisRow, Base, CorrectionRow, Store


class ReviewRow(Base):
    """One row per analysis whose review a person marked complete."""

    __tablename__ = "reviews"

    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id"), primary_key=True, autoincrement=False)
    author: Mapped[str] = mapped_column(String(200))
    marked: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


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
    """Remove an analysis's mark (with the analysis itself: `Store.delete`)."""
    session.execute(delete(ReviewRow).where(ReviewRow.analysis_id == analysis_id))


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
    for analysis_id in wanted:
        reviewed = load(store, analysis_id)
        if reviewed is None:
            raise InputError(f"no analysis {analysis_id}")
        yield reviewed
