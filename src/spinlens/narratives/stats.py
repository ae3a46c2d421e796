"""Narratives and languages in a stored corpus: which known claims were repeated, where and when, and how many
texts were in each language (`spinlens stats --by narrative` / ``--by language``, the corpus report).

Counted as technique statistics are (`spinlens.store.stats`): a duplicate counts for its own outlet and month with
its original's matches; one (model, version) at a time.
"""

from __future__ import annotations

from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import Session

from spinlens.language import name as language_name
from spinlens.narratives.stored import AnalysisLanguageRow, NarrativeMatchRow, read_for_techniques
from spinlens.store.db import Store
from spinlens.store.schema import AnalysisRow, DocumentRow
from spinlens.store.stats import UNKNOWN, Scope, _analysed, _month


def by_narrative(store: Store, scope: Scope) -> list[dict]:
    """One row per (outlet, month, claim): how many texts repeated the claim there and then, and how many
    sentences did; most repeated first."""
    month = _month(store, DocumentRow.published)
    q = (
        select(
            DocumentRow.outlet,
            month.label("month"),
            NarrativeMatchRow.catalogue,
            NarrativeMatchRow.claim_id,
            func.max(NarrativeMatchRow.title),
            func.max(NarrativeMatchRow.url),
            func.count(distinct(DocumentRow.id)),
            func.count(NarrativeMatchRow.id),
            func.max(NarrativeMatchRow.confidence),
        )
        .join(AnalysisRow, _analysed(scope, for_techniques=False))
        .join(NarrativeMatchRow, NarrativeMatchRow.analysis_id == AnalysisRow.id)
        .group_by(DocumentRow.outlet, month, NarrativeMatchRow.catalogue, NarrativeMatchRow.claim_id)
    )
    with Session(store.engine) as s:
        rows = [
            {
                "outlet": outlet or UNKNOWN,
                "month": m or UNKNOWN,
                "catalogue": catalogue,
                "claim_id": claim_id,
                "claim": title,
                "url": url,
                "documents": docs,
                "sentences": sentences,
                "max_confidence": round(float(best), 4),
            }
            for outlet, m, catalogue, claim_id, title, url, docs, sentences, best in s.execute(q)
        ]
    return sorted(rows, key=lambda r: (-r["documents"], -r["sentences"], r["outlet"], r["month"], r["claim_id"]))


def repeated(store: Store, scope: Scope, limit: int = 30) -> list[dict]:
    """The claims repeated by most texts, over the whole corpus: texts, outlets, first and last month."""
    month = _month(store, DocumentRow.published)
    q = (
        select(
            NarrativeMatchRow.catalogue,
            NarrativeMatchRow.claim_id,
            func.max(NarrativeMatchRow.title),
            func.max(NarrativeMatchRow.url),
            func.count(distinct(DocumentRow.id)).label("docs"),
            func.count(distinct(DocumentRow.outlet)),
            func.min(month),
            func.max(month),
        )
        .join(AnalysisRow, _analysed(scope, for_techniques=False))
        .join(NarrativeMatchRow, NarrativeMatchRow.analysis_id == AnalysisRow.id)
        .group_by(NarrativeMatchRow.catalogue, NarrativeMatchRow.claim_id)
        .order_by(func.count(distinct(DocumentRow.id)).desc(), NarrativeMatchRow.claim_id)
        .limit(limit)
    )
    with Session(store.engine) as s:
        return [
            {
                "catalogue": catalogue,
                "claim_id": claim_id,
                "claim": title,
                "url": url,
                "documents": docs,
                "outlets": outlets,
                "first_month": first,
                "last_month": last,
            }
            for catalogue, claim_id, title, url, docs, outlets, first, last in s.execute(q)
        ]


def languages(store: Store, scope: Scope) -> list[dict]:
    """Texts per detected language, and how many of them technique spans were looked for in (English ones, and
    English paragraphs of others)."""
    q = (
        select(
            AnalysisLanguageRow.language,
            func.count(DocumentRow.id),
            func.sum(case((read_for_techniques(), 1), else_=0)),
        )
        .join(AnalysisRow, _analysed(scope, for_techniques=False))
        .outerjoin(AnalysisLanguageRow, AnalysisLanguageRow.analysis_id == AnalysisRow.id)
        .group_by(AnalysisLanguageRow.language)
    )
    with Session(store.engine) as s:
        rows = [
            {
                "language": code or UNKNOWN,
                "name": language_name(code) if code else "not detected (analysed before languages were)",
                "documents": n,
                "analysed_for_techniques": int(looked or 0),
            }
            for code, n, looked in s.execute(q)
        ]
    return sorted(rows, key=lambda r: -r["documents"])
