"""Corpus statistics computed in SQL (they scale with the database, not with memory).

Every document counts with the analysis of its text: a duplicate (the same wire story in another outlet) counts for
its own outlet and date with its original's spans. Rates are per 1,000 words so that outlets with long and short
articles compare. Only one (model, version) is counted at a time: by default the one with the most analyses.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import and_, case, distinct, func, select
from sqlalchemy.orm import Session

from spinlens import taxonomy
from spinlens.errors import SpinlensError
from spinlens.store.db import AnalysisRow, DocumentRow, FailureRow, SpanRow, Store
from spinlens.textutil import is_listable_phrase, likely_target, title_of

UNKNOWN = "(unknown)"
PHRASE_TECHNIQUES = ("Name_Calling,Labeling", "Loaded_Language")


@dataclass(frozen=True)
class Scope:
    """Which analyses the numbers come from."""

    model: str
    version: str


def choose_scope(store: Store, model: str | None = None, version: str | None = None) -> Scope:
    """The given model (and version), else the (model, version) with the most analyses in the store."""
    q = select(AnalysisRow.model, AnalysisRow.model_version, func.count().label("n")).group_by(
        AnalysisRow.model, AnalysisRow.model_version
    )
    if model:
        q = q.where(AnalysisRow.model == model)
    if version:
        q = q.where(AnalysisRow.model_version == version)
    with Session(store.engine) as s:
        rows = s.execute(q.order_by(func.count().desc())).all()
    if not rows:
        wanted = f" by model {model}" + (f" version {version}" if version else "") if model else ""
        raise SpinlensError(f"{store.engine.url.render_as_string(hide_password=True)}: no analyses{wanted} yet")
    return Scope(rows[0][0], rows[0][1])


def _analysed(scope: Scope, for_techniques: bool = True):  # type: ignore[no-untyped-def]
    """Documents joined with the analysis of their text (their own, or their original's); ``for_techniques``: only
    texts that technique spans were looked for in (not those in a language the model cannot read, whose words
    would otherwise dilute every rate per 1,000 words)."""
    from spinlens.narratives.stored import not_read_for_techniques

    return and_(
        AnalysisRow.document_id == func.coalesce(DocumentRow.duplicate_of, DocumentRow.id),
        AnalysisRow.model == scope.model,
        AnalysisRow.model_version == scope.version,
        *([~not_read_for_techniques()] if for_techniques else []),
    )


def _month(store: Store, column):  # type: ignore[no-untyped-def]
    if store.engine.dialect.name == "sqlite":
        return func.strftime("%Y-%m", column)
    return func.to_char(column, "YYYY-MM")


def _grouped(store: Store, scope: Scope, key, name: str) -> list[dict]:  # type: ignore[no-untyped-def]
    """Documents, words, spans and spans per technique, grouped by ``key`` (a column expression)."""
    techniques = [t.name for t in taxonomy.techniques("ptc14")]
    base = select(DocumentRow).join(AnalysisRow, _analysed(scope))
    docs_q = base.with_only_columns(
        key.label("k"),
        func.count(DocumentRow.id),
        func.sum(DocumentRow.n_words),
        func.avg(AnalysisRow.propaganda_score),
    ).group_by(key)
    spans_q = (
        base.join(SpanRow, SpanRow.analysis_id == AnalysisRow.id)
        .with_only_columns(key.label("k"), SpanRow.technique, func.count(SpanRow.id))
        .group_by(key, SpanRow.technique)
    )
    with Session(store.engine) as s:
        docs = s.execute(docs_q).all()
        spans: dict[object, Counter] = {}
        for k, technique, n in s.execute(spans_q):
            spans.setdefault(k, Counter())[technique] = n
    rows = []
    for k, n_docs, words, mean_score in docs:
        counts = spans.get(k, Counter())
        words = int(words or 0)
        per_k = 1000.0 / words if words else 0.0
        row = {
            name: k if k is not None else UNKNOWN,
            "documents": n_docs,
            "words": words,
            "spans": sum(counts.values()),
            "spans_per_1000_words": round(sum(counts.values()) * per_k, 3),
            "mean_propaganda_score": round(float(mean_score), 4) if mean_score is not None else None,
        }
        row.update({f"{t}_per_1000_words": round(counts.get(t, 0) * per_k, 3) for t in techniques})
        rows.append(row)
    # databases sort NULL differently (SQLite first, PostgreSQL last): the unknown group goes last everywhere
    return sorted(rows, key=lambda r: (r[name] == UNKNOWN, str(r[name])))


def by_outlet(store: Store, scope: Scope) -> list[dict]:
    return _grouped(store, scope, DocumentRow.outlet, "outlet")


def by_month(store: Store, scope: Scope) -> list[dict]:
    return _grouped(store, scope, _month(store, DocumentRow.published), "month")


def by_outlet_and_month(store: Store, scope: Scope) -> list[dict]:
    """Spans per 1,000 words for each (outlet, month): who, and since when."""
    month = _month(store, DocumentRow.published)
    base = select(DocumentRow).join(AnalysisRow, _analysed(scope)).where(DocumentRow.published.isnot(None))
    with Session(store.engine) as s:
        docs = s.execute(
            base.with_only_columns(
                DocumentRow.outlet, month, func.count(DocumentRow.id), func.sum(DocumentRow.n_words)
            ).group_by(DocumentRow.outlet, month)
        ).all()
        spans = dict(
            ((outlet, m), n)
            for outlet, m, n in s.execute(
                base.join(SpanRow, SpanRow.analysis_id == AnalysisRow.id)
                .with_only_columns(DocumentRow.outlet, month, func.count(SpanRow.id))
                .group_by(DocumentRow.outlet, month)
            )
        )
    rows = [
        {
            "outlet": outlet if outlet is not None else UNKNOWN,
            "month": m,
            "documents": n,
            "words": int(words or 0),
            "spans": spans.get((outlet, m), 0),
            "spans_per_1000_words": round(spans.get((outlet, m), 0) * 1000.0 / words, 3) if words else 0.0,
        }
        for outlet, m, n, words in docs
    ]
    return sorted(rows, key=lambda r: (r["outlet"] == UNKNOWN, r["outlet"], r["month"]))


def by_technique(store: Store, scope: Scope) -> list[dict]:
    """Per technique: spans, documents where the article-level model says it is present, rate, mean confidence."""
    base = select(DocumentRow).join(AnalysisRow, _analysed(scope))
    with Session(store.engine) as s:
        total_docs, total_words = s.execute(
            base.with_only_columns(func.count(DocumentRow.id), func.sum(DocumentRow.n_words))
        ).one()
        span_rows = s.execute(
            base.join(SpanRow, SpanRow.analysis_id == AnalysisRow.id)
            .with_only_columns(
                SpanRow.technique,
                func.count(SpanRow.id),
                func.count(distinct(DocumentRow.id)),
                func.avg(SpanRow.score),
            )
            .group_by(SpanRow.technique)
        ).all()
    found = {t: (n, docs, score) for t, n, docs, score in span_rows}
    rows = []
    for t in taxonomy.techniques("ptc14"):
        n, docs, score = found.get(t.name, (0, 0, None))
        rows.append(
            {
                "technique": t.name,
                "category": t.category,
                "spans": n,
                "documents_with_spans": docs,
                "share_of_documents": round(docs / total_docs, 4) if total_docs else 0.0,
                "spans_per_1000_words": round(n * 1000.0 / total_words, 3) if total_words else 0.0,
                "mean_span_confidence": round(float(score), 4) if score is not None else None,
            }
        )
    return sorted(rows, key=lambda r: -r["spans"])


def failures(store: Store, limit: int = 10_000) -> list[dict]:
    with Session(store.engine) as s:
        rows = s.execute(
            select(FailureRow.ref, FailureRow.stage, FailureRow.reason).order_by(FailureRow.id).limit(limit)
        ).all()
    return [{"ref": ref, "stage": stage, "reason": reason} for ref, stage, reason in rows]


def top_phrases(
    store: Store, scope: Scope, techniques: Sequence[str] = PHRASE_TECHNIQUES, limit: int = 15, examples: int = 40
) -> list[dict]:
    """The most frequent phrases of these techniques, the outlets using them, and their likely targets.

    Phrases of function words alone ("an", "of the") or of one character are left out (`textutil.is_listable_phrase`).
    """
    phrase = func.lower(SpanRow.snippet)
    base = (
        select(DocumentRow)
        .join(AnalysisRow, _analysed(scope))
        .join(SpanRow, SpanRow.analysis_id == AnalysisRow.id)
        .where(SpanRow.technique.in_(techniques))
    )
    q = (
        base.with_only_columns(
            phrase.label("phrase"),
            SpanRow.technique,
            func.count(SpanRow.id).label("n"),
            func.count(distinct(DocumentRow.outlet)),
        )
        .group_by(phrase, SpanRow.technique)
        .order_by(func.count(SpanRow.id).desc(), func.min(SpanRow.id))  # ties: first seen (collations differ)
    )
    rows = []
    with Session(store.engine) as s:
        for text, technique, n, n_outlets in _listable(s, q, limit):
            where = base.where(phrase == text, SpanRow.technique == technique)
            spots = s.execute(
                where.with_only_columns(DocumentRow.text, SpanRow.start, SpanRow.end)
                .order_by(SpanRow.id)
                .limit(examples)
            ).all()
            targets = Counter(t for doc_text, a, b in spots if (t := likely_target(doc_text, a, b)))
            outlets = s.execute(
                where.with_only_columns(DocumentRow.outlet, func.count())
                .group_by(DocumentRow.outlet)
                .order_by(func.count().desc(), func.min(DocumentRow.id))
                .limit(3)
            ).all()
            rows.append(
                {
                    "phrase": text,
                    "technique": technique,
                    "count": n,
                    "outlets": n_outlets,
                    "top_outlets": [o or UNKNOWN for o, _ in outlets],
                    "targets": [t for t, _ in targets.most_common(3)],
                }
            )
    return rows


def _listable(s: Session, q, limit: int) -> list:  # type: ignore[no-untyped-def]
    """The first ``limit`` rows of the ordered query ``q`` whose first column is a listable phrase, read in pages."""
    kept: list = []
    offset, page = 0, 4 * limit
    while len(kept) < limit:
        batch = s.execute(q.limit(page).offset(offset)).all()
        kept += [r for r in batch if is_listable_phrase(r[0])]
        if len(batch) < page:
            break
        offset += page
    return kept[:limit]


def densest(store: Store, scope: Scope, limit: int = 20, min_words: int = 50) -> list[dict]:
    """Analysed articles with the most technique spans per 100 words (articles under ``min_words`` left out)."""
    density = AnalysisRow.n_spans * 100.0 / DocumentRow.n_words
    q = (
        select(
            AnalysisRow.id,
            DocumentRow.title,
            DocumentRow.text,
            DocumentRow.outlet,
            DocumentRow.published,
            DocumentRow.url,
            DocumentRow.n_words,
            AnalysisRow.n_spans,
            AnalysisRow.propaganda_score,
            density.label("density"),
        )
        .join(DocumentRow, AnalysisRow.document_id == DocumentRow.id)
        .where(
            AnalysisRow.model == scope.model,
            AnalysisRow.model_version == scope.version,
            DocumentRow.n_words >= min_words,
        )
        .order_by(density.desc(), AnalysisRow.id)
        .limit(limit)
    )
    with Session(store.engine) as s:
        return [
            {
                "analysis_id": r.id,
                "title": r.title or title_of(r.text, 200),
                "outlet": r.outlet or UNKNOWN,
                "date": r.published.date().isoformat() if r.published else None,
                "url": r.url,
                "words": r.n_words,
                "spans": r.n_spans,
                "spans_per_100_words": round(float(r.density), 2),
                "propaganda_score": r.propaganda_score,
            }
            for r in s.execute(q)
        ]


def against_training(corpus: list[dict], profile: dict | None) -> list[dict]:
    """Each technique's share of all spans and its rate per 1,000 words, in the corpus (rows of `by_technique`)
    and in the training data."""
    total = sum(r["spans"] for r in corpus) or 1
    train_spans = (profile or {}).get("spans", {})
    train_total = sum(train_spans.values()) or 1
    train_words = (profile or {}).get("words") or 0
    return [
        {
            "technique": r["technique"],
            "corpus_share": round(r["spans"] / total, 4),
            "training_share": round(train_spans.get(r["technique"], 0) / train_total, 4) if train_spans else None,
            "corpus_per_1000_words": r["spans_per_1000_words"],
            "training_per_1000_words": round(train_spans.get(r["technique"], 0) * 1000 / train_words, 3)
            if train_words
            else None,
        }
        for r in corpus
    ]


def overview(store: Store, scope: Scope) -> dict:
    """Totals: documents, duplicates, words, outlets, first and last date, failures and documents not analysed yet."""
    with Session(store.engine) as s:
        docs, words, dupes = s.execute(
            select(
                func.count(DocumentRow.id),
                func.sum(DocumentRow.n_words),
                func.sum(case((DocumentRow.duplicate_of.isnot(None), 1), else_=0)),
            ).join(AnalysisRow, _analysed(scope))
        ).one()
        first, last = s.execute(
            select(func.min(DocumentRow.published), func.max(DocumentRow.published)).join(AnalysisRow, _analysed(scope))
        ).one()
        outlets = s.scalar(select(func.count(distinct(DocumentRow.outlet))).join(AnalysisRow, _analysed(scope)))
    counts = store.counts()
    return {
        "model": scope.model,
        "model_version": scope.version,
        "documents": docs or 0,
        "duplicates": int(dupes or 0),
        "words": int(words or 0),
        "outlets": outlets or 0,
        "first_date": first.date().isoformat() if first else None,
        "last_date": last.date().isoformat() if last else None,
        "failures": counts["failures"],
        "pending": store.count_pending(scope.model, scope.version),
    }


@dataclass(frozen=True)
class CorpusSummary:
    """Everything the corpus report shows, as plain rows: render it (`report.corpus.render_summary`) without a database.

    Each list holds the rows of the function of the same name in this module; ``against_training`` those of
    `against_training`, and ``has_training_profile`` whether the model carried a training profile to compare with.
    """

    scope: Scope
    overview: dict
    outlets: list[dict] = field(default_factory=list)
    months: list[dict] = field(default_factory=list)
    outlet_months: list[dict] = field(default_factory=list)
    techniques: list[dict] = field(default_factory=list)
    phrases: list[dict] = field(default_factory=list)
    densest: list[dict] = field(default_factory=list)
    against_training: list[dict] = field(default_factory=list)
    has_training_profile: bool = False
    narratives: list[dict] = field(default_factory=list)  # `spinlens.narratives.stats.repeated`
    languages: list[dict] = field(default_factory=list)  # `spinlens.narratives.stats.languages`


def summarize(
    store: Store, scope: Scope | None = None, training: dict | None = None, n_articles: int = 20
) -> CorpusSummary:
    """The numbers of the corpus report for ``scope`` (default: `choose_scope`), against the model's ``training``
    profile when there is one; ``n_articles``: how many of the densest articles to list."""
    from spinlens.narratives import stats as narrative_stats

    scope = scope or choose_scope(store)
    techniques = by_technique(store, scope)
    return CorpusSummary(
        narratives=narrative_stats.repeated(store, scope),
        languages=narrative_stats.languages(store, scope),
        scope=scope,
        overview=overview(store, scope),
        outlets=by_outlet(store, scope),
        months=by_month(store, scope),
        outlet_months=by_outlet_and_month(store, scope),
        techniques=techniques,
        phrases=top_phrases(store, scope),
        densest=densest(store, scope, limit=n_articles),
        against_training=against_training(techniques, training),
        has_training_profile=bool(training),
    )


DIMENSIONS = {"outlet": by_outlet, "month": by_month, "outlet-month": by_outlet_and_month, "technique": by_technique}
