"""Documents, analyses, spans and failures in SQL (SQLAlchemy): SQLite by default (WAL), PostgreSQL by URL.

The tables and their upgrades are in `spinlens.store.schema`, the one-run-at-a-time lock in `spinlens.store.runlock`.

- A document is registered once per *identity* (`spinlens.sources.identity`: a row's id, a feed entry's GUID, a
  file's path, or the fingerprint of a pasted text), so registering the same input twice is a no-op: that is what
  makes runs resumable. An identity read again with another text is a new *version*: a new document, analysed,
  while the old one is kept and marked ``superseded_by`` it; statistics count current versions only. The text of
  an older version read again (yesterday's snapshot after today's) changes nothing.
- Documents whose normalised text equals an earlier one's are linked to it (``duplicate_of``) and not analysed
  again; statistics count them for their own outlet and date with the analysis of the original.
- An analysis is unique per (document, model, model version), enforced by the database: a batch committed twice
  (say after a crash between commit and acknowledgement) cannot store a result twice.
- Span notes are not stored: they are rebuilt from the technique and the text (`taxonomy.explain`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import (
    create_engine,
    delete,
    event,
    exists,
    func,
    insert,
    select,
)
from sqlalchemy.orm import Session, aliased, load_only

from spinlens import taxonomy
from spinlens.corrections import Correction, CorrectionIn
from spinlens.document import Analysis, Document, Span, TechniqueVerdict
from spinlens.errors import SpinlensError
from spinlens.review import tables as review_tables  # its tables are on `schema.Base` too
from spinlens.store.runlock import RunLock
from spinlens.store.schema import (
    AnalysisRow,
    DocumentRow,
    FailureRow,
    SpanColumns,
    SpanRow,
    _create_tables,
    _document,
    _document_row,
    _refuse_old_schema,
    _sqlite_pragmas,
    content_key,
    ref_key,
    unstorable,
    version_key,
)
from spinlens.textutil import short_title


@dataclass
class Registered:
    """What `Store.register` did with a batch of inputs."""

    new: int = 0  # documents added that need an analysis (new versions included)
    duplicates: int = 0  # added and linked to an earlier document with the same normalised text
    known: int = 0  # items already in the store with the same text (a rerun, a re-read feed)
    failed: int = 0  # inputs that could not be read (recorded in `failures`)
    still_failing: int = 0  # inputs that could not be read, as in an earlier run (of `known`)
    changed: int = 0  # items already in the store whose text changed: added as new versions (of `new`/`duplicates`)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (ref, reason) of those, and of still failing
    changes: list[str] = field(default_factory=list)  # refs of the changed items, the first 100


def default_url() -> str:
    """``$SPINLENS_DB``, else a SQLite file in the user's data directory."""
    if os.environ.get("SPINLENS_DB"):
        return os.environ["SPINLENS_DB"]
    from platformdirs import user_data_dir

    path = Path(user_data_dir("spinlens")) / "spinlens.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


class Store(RunLock):
    def __init__(self, url: str | None = None) -> None:
        self.url = url or default_url()
        self.engine = create_engine(self.url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        _refuse_old_schema(self.engine, self.url)
        _create_tables(self.engine)
        review_tables.refresh(self, review_tables.stale(self))  # corrections made before their state was kept
        self._run_token: str | None = None

    # --- documents -------------------------------------------------------------------------------------------

    def register(
        self,
        items: Sequence[tuple[str, Document | None, str | None] | tuple[str, Document | None, str | None, str | None]],
    ) -> Registered:
        """Add inputs given as (ref, document, None[, identity]) or (ref, None, reason it could not be read), in one
        transaction. The identity defaults to the ref.

        Items already stored with the same text are skipped, so registering a whole corpus again only adds what is
        new; an item stored with another text is added as its next version, the old version superseded.
        """
        result = Registered()
        entries = [(it[0], it[1], it[2], (it[3] if len(it) > 3 else None) or it[0]) for it in items]
        keys = [ref_key(ref) for ref, _, _, _ in entries]
        identity_keys = {ref_key(identity) for *_, identity in entries}
        with Session(self.engine) as s, s.begin():
            current = {
                row.identity_key: row
                for row in s.scalars(
                    select(DocumentRow)
                    .options(  # not the text: a rerun of a large corpus reads only what it compares
                        load_only(
                            DocumentRow.identity_key,
                            DocumentRow.fingerprint,
                            DocumentRow.version,
                            DocumentRow.content_key,
                            DocumentRow.superseded_by,
                        )
                    )
                    .where(DocumentRow.identity_key.in_(identity_keys), DocumentRow.superseded_by.is_(None))
                )
            }
            superseded = set(  # (identity, text) of old versions: an old snapshot read again is not a change
                s.execute(
                    select(DocumentRow.identity_key, DocumentRow.fingerprint).where(
                        DocumentRow.identity_key.in_(identity_keys), DocumentRow.superseded_by.isnot(None)
                    )
                ).all()
            )
            failed_before = dict(
                s.execute(
                    select(FailureRow.ref_key, FailureRow.reason).where(
                        FailureRow.ref_key.in_(keys), FailureRow.stage == "read"
                    )
                ).all()
            )
            fresh = []
            for k, (ref, doc, reason, identity) in zip(keys, entries, strict=True):
                if doc is not None and (problem := unstorable(doc.text)):
                    doc, reason = None, problem
                if doc is None and k in failed_before:
                    result.known += 1  # still failing, as in an earlier run
                    result.still_failing += 1
                    result.failures.append((ref, f"{failed_before[k]} (as in an earlier run)"))
                    continue
                if doc is not None and k in failed_before:  # the input was mended since: forget its failure
                    s.execute(delete(FailureRow).where(FailureRow.ref_key == k, FailureRow.stage == "read"))
                    del failed_before[k]
                fresh.append((k, ref, doc, reason, identity))
            failures = [(k, ref, reason) for k, ref, doc, reason, _ in fresh if doc is None]
            for k, ref, reason in {k: (k, ref, reason) for k, ref, reason in failures}.values():
                s.add(FailureRow(ref_key=k, ref=ref, stage="read", model_version="", reason=reason or "unreadable"))
                result.failed += 1
                result.failures.append((ref, reason or "unreadable"))
            docs = [(ref, doc, identity) for _, ref, doc, _, identity in fresh if doc is not None]
            ckeys = {id(doc): content_key(doc.text) for _, doc, _ in docs}
            originals = dict(
                s.execute(
                    select(DocumentRow.content_key, DocumentRow.id).where(
                        DocumentRow.content_key.in_(set(ckeys.values())),
                        DocumentRow.duplicate_of.is_(None),
                        DocumentRow.superseded_by.is_(None),
                    )
                ).all()
            )
            for ref, doc, identity in docs:
                ikey = ref_key(identity)
                before = current.get(ikey)
                if before is not None and (
                    before.fingerprint == doc.fingerprint or (ikey, doc.fingerprint) in superseded
                ):
                    # analysed, or waiting, from an earlier run (or earlier in this one); or an older version read
                    # again (Monday's snapshot after Tuesday's): the current version stays
                    result.known += 1
                    continue
                version = before.version + 1 if before is not None else 1
                ckey = ckeys[id(doc)]
                row = _document_row(doc, ref, version_key(identity, version), ckey, originals.get(ckey))
                row.identity, row.identity_key, row.version = identity, ikey, version
                s.add(row)
                s.flush()
                if before is not None:
                    before.superseded_by = row.id
                    superseded.add((ikey, before.fingerprint))
                    if originals.get(before.content_key) == before.id:
                        del originals[before.content_key]
                    result.changed += 1
                    if len(result.changes) < 100:
                        result.changes.append(ref)
                current[ikey] = row
                if row.duplicate_of is None:
                    originals[ckey] = row.id
                    result.new += 1
                else:
                    result.duplicates += 1
        return result

    def count_pending(self, model: str, model_version: str) -> int:
        with Session(self.engine) as s:
            return s.scalar(select(func.count()).select_from(self._pending_query(model, model_version).subquery()))

    def pending(
        self, model: str, model_version: str, after_id: int = 0, limit: int = 256
    ) -> list[tuple[int, Document]]:
        """Original documents (not duplicates) with no analysis and no recorded failure for this model, by id: current
        versions, and superseded ones that a current duplicate still takes its analysis from."""
        q = self._pending_query(model, model_version).where(DocumentRow.id > after_id).order_by(DocumentRow.id)
        with Session(self.engine) as s:
            return [(row.id, _document(row)) for row in s.scalars(q.limit(limit))]

    def _pending_query(self, model: str, model_version: str):  # type: ignore[no-untyped-def]
        analysed = exists().where(
            AnalysisRow.document_id == DocumentRow.id,
            AnalysisRow.model == model,
            AnalysisRow.model_version == model_version,
        )
        failed = exists().where(
            FailureRow.document_id == DocumentRow.id,
            FailureRow.stage == "analyse",
            FailureRow.model_version == f"{model}/{model_version}",
        )
        copy = aliased(DocumentRow)
        needed = DocumentRow.superseded_by.is_(None) | exists().where(
            copy.duplicate_of == DocumentRow.id, copy.superseded_by.is_(None)
        )
        return select(DocumentRow).where(DocumentRow.duplicate_of.is_(None), needed, ~analysed, ~failed)

    # --- analyses --------------------------------------------------------------------------------------------

    def save_results(
        self, analyses: Iterable[tuple[int, Analysis]], failures: Iterable[tuple[int, str]] = (), model: str = ""
    ) -> int:
        """Store analyses of registered documents, and analysis failures, in one transaction.

        Documents that already have an analysis for the model are left alone (a rerun after a crash between
        commit and acknowledgement). Returns how many analyses were added.
        """
        analyses = list(analyses)
        added = 0
        with Session(self.engine) as s, s.begin():
            for document_id, a in analyses:
                done = s.scalar(
                    select(AnalysisRow.id).where(
                        AnalysisRow.document_id == document_id,
                        AnalysisRow.model == a.model,
                        AnalysisRow.model_version == a.model_version,
                    )
                )
                if done is None:
                    self._insert_analysis(s, document_id, a)
                    added += 1
            for document_id, reason in failures:
                ref = s.scalar(select(DocumentRow.ref).where(DocumentRow.id == document_id)) or str(document_id)
                recorded = select(FailureRow.id).where(
                    FailureRow.ref_key == ref_key(ref), FailureRow.stage == "analyse", FailureRow.model_version == model
                )
                if s.scalar(recorded) is not None:  # committed by an interrupted attempt
                    continue
                s.add(
                    FailureRow(
                        ref_key=ref_key(ref),
                        ref=ref,
                        stage="analyse",
                        model_version=model,
                        document_id=document_id,
                        reason=reason,
                    )
                )
        return added

    def _insert_analysis(self, s: Session, document_id: int, a: Analysis) -> int:
        row = AnalysisRow(
            document_id=document_id,
            model=a.model,
            model_version=a.model_version,
            scheme=a.scheme,
            n_spans=len(a.spans),
            propaganda_score=a.propaganda_score,
            techniques_json=json.dumps([v.model_dump() for v in a.techniques]),
        )
        s.add(row)
        s.flush()
        text = a.document.text
        if a.spans:
            s.execute(
                insert(SpanRow),
                [{"analysis_id": row.id, **SpanColumns.values(sp, text)} for sp in a.spans],
            )
        from spinlens.narratives import stored

        stored.insert_rows(s, row.id, a)  # language, notes, narrative matches
        return row.id

    def find(self, fingerprint: str, model: str, model_version: str) -> tuple[int, Analysis] | None:
        """The stored analysis of this exact text by this model, if any."""
        with Session(self.engine) as s:
            analysis_id = s.scalar(
                select(AnalysisRow.id)
                .join(DocumentRow, AnalysisRow.document_id == DocumentRow.id)
                .where(
                    DocumentRow.fingerprint == fingerprint,
                    AnalysisRow.model == model,
                    AnalysisRow.model_version == model_version,
                )
                .limit(1)
            )
        if analysis_id is None:
            return None
        found = self.get(analysis_id)
        return (analysis_id, found) if found else None

    def save(self, analysis: Analysis) -> int:
        """Store one analysis of a text that came from outside a corpus (the web page); returns its id."""
        found = self.find(analysis.document.fingerprint, analysis.model, analysis.model_version)
        if found:
            return found[0]
        problem = unstorable(analysis.document.text)
        if problem:
            raise SpinlensError(problem)
        ref = f"text:{analysis.document.fingerprint}"
        self.register([(ref, analysis.document, None)])
        with Session(self.engine) as s, s.begin():
            document_id = s.scalar(select(DocumentRow.id).where(DocumentRow.ref_key == ref_key(ref)))
            assert document_id is not None
            existing = s.scalar(
                select(AnalysisRow.id).where(
                    AnalysisRow.document_id == document_id,
                    AnalysisRow.model == analysis.model,
                    AnalysisRow.model_version == analysis.model_version,
                )
            )
            return existing if existing is not None else self._insert_analysis(s, document_id, analysis)

    def get(self, analysis_id: int) -> Analysis | None:
        with Session(self.engine) as s:
            row = s.get(AnalysisRow, analysis_id)
            if row is None:
                return None
            doc = _document(s.get(DocumentRow, row.document_id))  # type: ignore[arg-type]
            spans = s.scalars(select(SpanRow).where(SpanRow.analysis_id == analysis_id).order_by(SpanRow.id))
            from spinlens.narratives import stored

            return Analysis(
                **stored.load_rows(s, analysis_id),
                document=doc,
                spans=[
                    Span(
                        start=sp.start,
                        end=sp.end,
                        technique=sp.technique,
                        score=sp.score,
                        span_confidence=sp.span_confidence,
                        technique_confidence=sp.technique_confidence,
                        note=_note(sp.technique, doc.text[sp.start : sp.end], row.scheme),
                    )
                    for sp in spans
                ],
                techniques=[TechniqueVerdict(**v) for v in json.loads(row.techniques_json)],
                propaganda_score=row.propaganda_score,
                scheme=row.scheme,
                model=row.model,
                model_version=row.model_version,
            )

    def list(self, limit: int = 50, offset: int = 0) -> list[dict]:
        """Most recent analyses first: id, title, outlet, counts and scores (no text)."""
        return self.search(None, limit, offset)

    def search(self, query: str | None = None, limit: int = 50, offset: int = 0) -> list[dict]:
        """Analyses whose title or text contains ``query`` (ignoring case, for ASCII letters on SQLite); with no
        query, all of them. Most recent first: id, title (or the text's first line), outlet, counts and scores."""
        if query and "\x00" in query:  # no stored text holds NUL (`unstorable`); SQLite's LIKE would stop at it and
            return []  # match everything, PostgreSQL would refuse the query
        q = (
            select(AnalysisRow, DocumentRow.title, DocumentRow.outlet, func.substr(DocumentRow.text, 1, 600))
            .join(DocumentRow, AnalysisRow.document_id == DocumentRow.id)
            .order_by(AnalysisRow.id.desc())
            .limit(limit)
            .offset(offset)
        )
        if query and query.strip():
            words = query.strip()
            q = q.where(
                DocumentRow.title.icontains(words, autoescape=True) | DocumentRow.text.icontains(words, autoescape=True)
            )
        with Session(self.engine) as s:
            return [
                {
                    "id": a.id,
                    "title": title or short_title(head),
                    "source": outlet,
                    "created": a.created.isoformat() if a.created else None,
                    "n_spans": a.n_spans,
                    "propaganda_score": a.propaganda_score,
                    "model": a.model,
                    "model_version": a.model_version,
                }
                for a, title, outlet, head in s.execute(q)
            ]

    def delete(self, analysis_id: int) -> bool:
        """Remove an analysis and its spans, and its document's text when nothing else refers to that document
        (another analysis, a duplicate of it, a recorded failure). False when there is no such analysis."""
        with Session(self.engine) as s, s.begin():
            row = s.get(AnalysisRow, analysis_id)
            if row is None:
                return False
            document_id = row.document_id
            review_tables.forget(s, analysis_id)  # its corrections, review mark and corrected state
            s.execute(delete(SpanRow).where(SpanRow.analysis_id == analysis_id))
            from spinlens.narratives import stored

            stored.delete_rows(s, analysis_id)
            s.execute(delete(AnalysisRow).where(AnalysisRow.id == analysis_id))
            referred = s.scalar(
                select(
                    exists().where(AnalysisRow.document_id == document_id)
                    | exists().where(DocumentRow.duplicate_of == document_id)
                    | exists().where(FailureRow.document_id == document_id)
                )
            )
            if not referred:
                s.execute(delete(DocumentRow).where(DocumentRow.id == document_id))
            return True

    def add_correction(self, analysis_id: int, correction: CorrectionIn, author: str = "local") -> Correction:
        """Store one correction of an analysis; `InputError` (one line) when it does not fit that analysis."""
        return self.add_corrections({analysis_id: [correction]}, author)[0]

    def add_corrections(
        self, corrections: dict[int, Sequence[CorrectionIn]], author: str | dict[int, str] = "local"
    ) -> list[Correction]:
        """Store corrections of many analyses (by analysis id) in one transaction: all, or none on `InputError`;
        ``author`` is one name for all, or one per analysis id (`spinlens.review.tables.add_corrections`)."""
        return review_tables.add_corrections(self, corrections, author)

    def corrections(self, analysis_id: int) -> list[Correction]:
        """Every correction of an analysis, in the order made."""
        return review_tables.corrections(self, analysis_id)

    def refs(self, document_ids: Sequence[int]) -> dict[int, str]:
        with Session(self.engine) as s:
            return dict(
                s.execute(select(DocumentRow.id, DocumentRow.ref).where(DocumentRow.id.in_(document_ids))).all()
            )

    def failures(self, limit: int = 1000) -> list[dict]:
        with Session(self.engine) as s:
            rows = s.scalars(select(FailureRow).order_by(FailureRow.id).limit(limit))
            return [{"ref": r.ref, "stage": r.stage, "reason": r.reason} for r in rows]

    def counts(self) -> dict[str, int]:
        with Session(self.engine) as s:
            return {
                "documents": s.scalar(select(func.count(DocumentRow.id))) or 0,
                "duplicates": s.scalar(select(func.count(DocumentRow.id)).where(DocumentRow.duplicate_of.isnot(None)))
                or 0,
                "analyses": s.scalar(select(func.count(AnalysisRow.id))) or 0,
                "spans": s.scalar(select(func.count(SpanRow.id))) or 0,
                "failures": s.scalar(select(func.count(FailureRow.id))) or 0,
            }


def _note(technique: str, fragment: str, scheme: str) -> str | None:
    return taxonomy.explain(technique, fragment, scheme) if taxonomy.is_technique(technique, scheme) else None
