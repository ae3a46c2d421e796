"""Corpus statistics computed in SQL (they scale with the database, not with memory).

Every document counts with the analysis of its text: a duplicate (the same wire story in another outlet) counts for
its own outlet and date with its original's spans, and is shown as syndicated. Each item counts once: only its
current version (an edited article's old text is kept, superseded, and not counted). Analyses people corrected
count as corrected (`spinlens.review.tables.spans_now`): their corrected spans, score and number of spans, not the
model's. Rates are per 1,000 words so that outlets with long and short articles compare, with their counts beside
them and a 95% interval (`interval`) that says how little a rate of a few articles means. Only one (model, version)
is counted at a time: by default the one with the most analyses; a `Scope` may also hold a period (``since``
inclusive, ``until`` exclusive, by publication date: undated articles are then left out).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy import and_, case, distinct, exists, func, select
from sqlalchemy.orm import Session, aliased

from spinlens import taxonomy
from spinlens.errors import SpinlensError
from spinlens.review.tables import CorrectedAnalysisRow, n_spans_now, score_now, spans_now
from spinlens.store.db import Store
from spinlens.store.schema import AnalysisRow, DocumentRow, FailureRow
from spinlens.textutil import is_listable_phrase, likely_target, short_title

UNKNOWN = "(unknown)"
Spans = spans_now()  # the spans as people left them: used wherever the model's `Spans` would be
PHRASE_TECHNIQUES = ("Name_Calling,Labeling", "Loaded_Language")


@dataclass(frozen=True)
class Scope:
    """Which analyses the numbers come from: one model's, of articles published in [since, until) when given."""

    model: str
    version: str
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def period(self, since: dt.date | dt.datetime | None, until: dt.date | dt.datetime | None) -> Scope:
        """This scope over [since, until) (a date is its midnight, UTC)."""
        return replace(self, since=_moment(since), until=_moment(until))

    @property
    def label(self) -> str:
        """The period in words, '' for all time."""
        if not self.since and not self.until:
            return ""
        first = self.since.date().isoformat() if self.since else "the first article"
        end = (self.until - dt.timedelta(seconds=1)).date().isoformat() if self.until else "the last article"
        return f"published {first} to {end}"


def _moment(value: dt.date | dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


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
    """Current documents (of the scope's period) joined with the analysis of their text (their own, or their
    original's); ``for_techniques``: only texts that technique spans were looked for in (not those in a language
    the model cannot read, whose words would otherwise dilute every rate per 1,000 words)."""
    from spinlens.narratives.stored import not_read_for_techniques

    conditions = [
        AnalysisRow.document_id == func.coalesce(DocumentRow.duplicate_of, DocumentRow.id),
        AnalysisRow.model == scope.model,
        AnalysisRow.model_version == scope.version,
        DocumentRow.superseded_by.is_(None),
        *([~not_read_for_techniques()] if for_techniques else []),
    ]
    if scope.since is not None:
        conditions.append(DocumentRow.published >= _stored(scope.since))
    if scope.until is not None:
        conditions.append(DocumentRow.published < _stored(scope.until))
    return and_(*conditions)


def _stored(moment: dt.datetime) -> dt.datetime:
    """A moment in UTC, as the store keeps them (SQLite writes it without its zone)."""
    return moment.astimezone(dt.UTC)


PERIODS = ("day", "week", "month")  # buckets: 2024-05-01; the Monday a week starts, 2024-04-29; 2024-05


def _bucket(store: Store, column, every: str = "month"):  # type: ignore[no-untyped-def]
    """The period (a day, the Monday of its week, a month) of a moment, in UTC, as text that sorts in time."""
    if every not in PERIODS:
        raise ValueError(f"every must be one of {', '.join(PERIODS)}, not {every!r}")
    if store.engine.dialect.name == "sqlite":  # stored as naive UTC
        if every == "week":
            return func.date(column, "-6 days", "weekday 1")  # the Monday on or before
        return func.strftime("%Y-%m-%d" if every == "day" else "%Y-%m", column)
    utc = func.timezone("UTC", column)
    if every == "week":
        return func.to_char(func.date_trunc("week", utc), "YYYY-MM-DD")
    return func.to_char(utc, "YYYY-MM-DD" if every == "day" else "YYYY-MM")


_corrected = CorrectedAnalysisRow.analysis_id == AnalysisRow.id  # outer join: the corrected numbers, if any


def _month(store: Store, column):  # type: ignore[no-untyped-def]
    return _bucket(store, column, "month")


Z95 = 1.959964  # the normal quantile of a two-sided 95% interval
SMALL = 30  # fewer articles than this: show the interval beside the rate


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion k/n (sound for small n and for k = 0 or n): (low, high)."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def poisson_interval(k: int, exposure: float, z: float = Z95) -> tuple[float, float]:
    """Score interval of a rate k/exposure (k events, a Poisson count; e.g. spans per 1,000 words): (low, high)."""
    if exposure <= 0:
        return 0.0, math.inf
    centre, half = k + z * z / 2, z * math.sqrt(k + z * z / 4)
    return max(0.0, centre - half) / exposure, (centre + half) / exposure


def _rate_fields(spans: int, words: int, docs_with_spans: int, documents: int) -> dict:
    """A group's rate per 1,000 words and share of articles with a span, each with its 95% interval."""
    low, high = poisson_interval(spans, words / 1000.0) if words else (0.0, 0.0)
    share_low, share_high = wilson(docs_with_spans, documents)
    return {
        "spans_per_1000_words": round(spans * 1000.0 / words, 3) if words else 0.0,
        "spans_per_1000_words_low": round(low, 3),
        "spans_per_1000_words_high": round(high, 3),
        "documents_with_spans": docs_with_spans,
        "share_with_spans": round(docs_with_spans / documents, 4) if documents else 0.0,
        "share_with_spans_low": round(share_low, 4),
        "share_with_spans_high": round(share_high, 4),
    }


def _syndicated():  # type: ignore[no-untyped-def]
    """1 for a document whose text (normalised) is also a current document of another outlet: a syndicated copy."""
    other = aliased(DocumentRow)
    shared = exists().where(
        other.content_key == DocumentRow.content_key,
        other.id != DocumentRow.id,
        other.superseded_by.is_(None),
        func.coalesce(other.outlet, "") != func.coalesce(DocumentRow.outlet, ""),
    )
    return case((shared, 1), else_=0)


SCORE_UNITS = 10_000  # scores are stored with 4 decimals (`Analysis`, `Span`)


def _exact_sum(score):  # type: ignore[no-untyped-def]
    """The sum of 4-decimal scores in whole ten-thousandths, and how many there are: a sum of whole numbers is the
    same on every database, where a float AVG is not (SQLite and PostgreSQL once gave 0.4662 and 0.4663 for one
    month's mean propaganda score: the same values added in another order, rounded on either side of a half)."""
    return func.sum(func.round(score * SCORE_UNITS)), func.count(score)


def _exact_mean(total: object, n: int) -> float | None:
    return round(float(total) / n / SCORE_UNITS, 4) if n and total is not None else None


def _grouped(store: Store, scope: Scope, key, name: str) -> list[dict]:  # type: ignore[no-untyped-def]
    """Documents, words, spans and spans per technique (rates and counts), grouped by ``key`` (a column expression)."""
    techniques = [t.name for t in taxonomy.techniques("ptc14")]
    base = select(DocumentRow).join(AnalysisRow, _analysed(scope))
    docs_q = (
        base.outerjoin(CorrectedAnalysisRow, _corrected)
        .with_only_columns(
            key.label("k"),
            func.count(DocumentRow.id),
            func.sum(DocumentRow.n_words),
            *_exact_sum(score_now()),
            func.sum(case((n_spans_now() > 0, 1), else_=0)),
            func.sum(_syndicated()),
        )
        .group_by(key)
    )
    spans_q = (
        base.join(Spans, Spans.analysis_id == AnalysisRow.id)
        .with_only_columns(key.label("k"), Spans.technique, func.count(Spans.id))
        .group_by(key, Spans.technique)
    )
    with Session(store.engine) as s:
        docs = s.execute(docs_q).all()
        spans: dict[object, Counter] = {}
        for k, technique, n in s.execute(spans_q):
            spans.setdefault(k, Counter())[technique] = n
    rows = []
    for k, n_docs, words, score_sum, scored, with_spans, syndicated in docs:
        counts = spans.get(k, Counter())
        words = int(words or 0)
        per_k = 1000.0 / words if words else 0.0
        row = {
            name: k if k is not None else UNKNOWN,
            "documents": n_docs,
            "syndicated": int(syndicated or 0),
            "words": words,
            "spans": sum(counts.values()),
            **_rate_fields(sum(counts.values()), words, int(with_spans or 0), n_docs),
            "mean_propaganda_score": _exact_mean(score_sum, scored),
        }
        row.update({f"{t}_per_1000_words": round(counts.get(t, 0) * per_k, 3) for t in techniques})
        row.update({f"{t}_spans": counts.get(t, 0) for t in techniques})
        rows.append(row)
    # databases sort NULL differently (SQLite first, PostgreSQL last): the unknown group goes last everywhere
    return sorted(rows, key=lambda r: (r[name] == UNKNOWN, str(r[name])))


def by_outlet(store: Store, scope: Scope) -> list[dict]:
    return _grouped(store, scope, DocumentRow.outlet, "outlet")


def by_period(store: Store, scope: Scope, every: str = "month") -> list[dict]:
    """Rows by day, week (its Monday) or month of publication; undated articles in one ``(unknown)`` row."""
    return _grouped(store, scope, _bucket(store, DocumentRow.published, every), every)


def by_month(store: Store, scope: Scope) -> list[dict]:
    return by_period(store, scope, "month")


def by_outlet_and_month(store: Store, scope: Scope, every: str = "month") -> list[dict]:
    """Spans per 1,000 words for each (outlet, period): who, and since when. The period's column is named ``month``
    (or ``day``, ``week``)."""
    month = _bucket(store, DocumentRow.published, every)
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
                base.join(Spans, Spans.analysis_id == AnalysisRow.id)
                .with_only_columns(DocumentRow.outlet, month, func.count(Spans.id))
                .group_by(DocumentRow.outlet, month)
            )
        )
    rows = []
    for outlet, m, n, words in docs:
        words = int(words or 0)
        k = spans.get((outlet, m), 0)
        low, high = poisson_interval(k, words / 1000.0) if words else (0.0, 0.0)
        rows.append(
            {
                "outlet": outlet if outlet is not None else UNKNOWN,
                every: m,
                "documents": n,
                "words": words,
                "spans": k,
                "spans_per_1000_words": round(k * 1000.0 / words, 3) if words else 0.0,
                "spans_per_1000_words_low": round(low, 3),
                "spans_per_1000_words_high": round(high, 3),
            }
        )
    return sorted(rows, key=lambda r: (r["outlet"] == UNKNOWN, r["outlet"], r[every]))


def by_technique(store: Store, scope: Scope) -> list[dict]:
    """Per technique: spans, documents where the article-level model says it is present, rate, mean confidence."""
    base = select(DocumentRow).join(AnalysisRow, _analysed(scope))
    with Session(store.engine) as s:
        total_docs, total_words = s.execute(
            base.with_only_columns(func.count(DocumentRow.id), func.sum(DocumentRow.n_words))
        ).one()
        span_rows = s.execute(
            base.join(Spans, Spans.analysis_id == AnalysisRow.id)
            .with_only_columns(
                Spans.technique,
                func.count(Spans.id),
                func.count(distinct(DocumentRow.id)),
                *_exact_sum(Spans.score),
            )
            .group_by(Spans.technique)
        ).all()
    found = {t: (n, docs, _exact_mean(total, scored)) for t, n, docs, total, scored in span_rows}
    rows = []
    for t in taxonomy.techniques("ptc14"):
        n, docs, score = found.get(t.name, (0, 0, None))
        low, high = wilson(docs, total_docs or 0)
        rows.append(
            {
                "technique": t.name,
                "category": t.category,
                "spans": n,
                "documents": total_docs or 0,
                "documents_with_spans": docs,
                "share_of_documents": round(docs / total_docs, 4) if total_docs else 0.0,
                "share_of_documents_low": round(low, 4),
                "share_of_documents_high": round(high, 4),
                "spans_per_1000_words": round(n * 1000.0 / total_words, 3) if total_words else 0.0,
                "mean_span_confidence": score,
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
    phrase = func.lower(Spans.snippet)
    base = (
        select(DocumentRow)
        .join(AnalysisRow, _analysed(scope))
        .join(Spans, Spans.analysis_id == AnalysisRow.id)
        .where(Spans.technique.in_(techniques))
    )
    q = (
        base.with_only_columns(
            phrase.label("phrase"),
            Spans.technique,
            func.count(Spans.id).label("n"),
            func.count(distinct(DocumentRow.outlet)),
        )
        .group_by(phrase, Spans.technique)
        .order_by(func.count(Spans.id).desc(), func.min(Spans.id))  # ties: first seen (collations differ)
    )
    rows = []
    with Session(store.engine) as s:
        for text, technique, n, n_outlets in _listable(s, q, limit):
            where = base.where(phrase == text, Spans.technique == technique)
            spots = s.execute(
                where.with_only_columns(DocumentRow.text, Spans.start, Spans.end).order_by(Spans.id).limit(examples)
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
    density = n_spans_now() * 100.0 / DocumentRow.n_words
    q = (
        select(
            AnalysisRow.id,
            DocumentRow.title,
            DocumentRow.text,
            DocumentRow.outlet,
            DocumentRow.published,
            DocumentRow.url,
            DocumentRow.n_words,
            n_spans_now().label("n_spans"),
            score_now().label("propaganda_score"),
            density.label("density"),
            CorrectedAnalysisRow.analysis_id.isnot(None).label("corrected"),
        )
        .join(DocumentRow, AnalysisRow.document_id == DocumentRow.id)
        .outerjoin(CorrectedAnalysisRow, _corrected)
        .where(_analysed(scope), DocumentRow.n_words >= min_words)
        .order_by(density.desc(), AnalysisRow.id)
        .limit(limit)
    )
    with Session(store.engine) as s:
        return [
            {
                "analysis_id": r.id,
                "title": short_title(r.title or r.text),
                "outlet": r.outlet or UNKNOWN,
                "date": r.published.date().isoformat() if r.published else None,
                "url": r.url,
                "words": r.n_words,
                "spans": r.n_spans,
                "spans_per_100_words": round(float(r.density), 2),
                "propaganda_score": r.propaganda_score,
                "corrected": bool(r.corrected),
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
    """Totals: documents, duplicates, syndicated copies (the same text in another outlet), words, outlets, first and
    last date, failures, documents not analysed yet and analyses people corrected; ``period``: the scope's period in
    words."""
    with Session(store.engine) as s:
        docs, words, dupes, syndicated = s.execute(
            select(
                func.count(DocumentRow.id),
                func.sum(DocumentRow.n_words),
                func.sum(case((DocumentRow.duplicate_of.isnot(None), 1), else_=0)),
                func.sum(_syndicated()),
            ).join(AnalysisRow, _analysed(scope))
        ).one()
        first, last = s.execute(
            select(func.min(DocumentRow.published), func.max(DocumentRow.published)).join(AnalysisRow, _analysed(scope))
        ).one()
        outlets = s.scalar(select(func.count(distinct(DocumentRow.outlet))).join(AnalysisRow, _analysed(scope)))
        corrected = s.scalar(
            select(func.count(CorrectedAnalysisRow.analysis_id))
            .join(AnalysisRow, _corrected)
            .where(AnalysisRow.model == scope.model, AnalysisRow.model_version == scope.version)
        )
    counts = store.counts()
    return {
        "model": scope.model,
        "model_version": scope.version,
        "documents": docs or 0,
        "duplicates": int(dupes or 0),
        "syndicated": int(syndicated or 0),
        "words": int(words or 0),
        "outlets": outlets or 0,
        "first_date": first.date().isoformat() if first else None,
        "last_date": last.date().isoformat() if last else None,
        "failures": counts["failures"],
        "pending": store.count_pending(scope.model, scope.version),
        "period": scope.label,
        "corrected": corrected or 0,  # analyses people corrected: counted as corrected
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
    every: str = "month"  # the period of ``months`` and ``outlet_months`` (their rows' key): day, week or month


def summarize(
    store: Store,
    scope: Scope | None = None,
    training: dict | None = None,
    n_articles: int = 20,
    every: str = "month",
) -> CorpusSummary:
    """The numbers of the corpus report for ``scope`` (default: `choose_scope`), against the model's ``training``
    profile when there is one; ``n_articles``: how many of the densest articles to list; ``every``: the period of
    the rows over time (day, week or month)."""
    from spinlens.narratives import stats as narrative_stats

    scope = scope or choose_scope(store)
    techniques = by_technique(store, scope)
    return CorpusSummary(
        narratives=narrative_stats.repeated(store, scope),
        languages=narrative_stats.languages(store, scope),
        scope=scope,
        overview=overview(store, scope),
        outlets=by_outlet(store, scope),
        months=by_period(store, scope, every),
        outlet_months=by_outlet_and_month(store, scope, every),
        techniques=techniques,
        phrases=top_phrases(store, scope),
        densest=densest(store, scope, limit=n_articles),
        against_training=against_training(techniques, training),
        has_training_profile=bool(training),
        every=every,
    )


DIMENSIONS = {
    "outlet": by_outlet,
    "day": lambda store, scope: by_period(store, scope, "day"),
    "week": lambda store, scope: by_period(store, scope, "week"),
    "month": by_month,
    "outlet-day": lambda store, scope: by_outlet_and_month(store, scope, "day"),
    "outlet-week": lambda store, scope: by_outlet_and_month(store, scope, "week"),
    "outlet-month": by_outlet_and_month,
    "technique": by_technique,
}
COMPARABLE = ("outlet", "technique")  # dimensions `compare` puts side by side


def compare(store: Store, scope: Scope, by: str, days: int, end: dt.date | dt.datetime | None = None) -> list[dict]:
    """The last ``days`` days (up to ``end``, default now) against the ``days`` before: per outlet or technique,
    articles, spans and the rate of each period, and the change of the rate (None where the earlier one is 0)."""
    if by not in COMPARABLE:
        raise ValueError(f"compare works by {' or '.join(COMPARABLE)}, not {by!r}")
    if days < 1:
        raise ValueError("the number of days to compare must be at least 1")
    stop = _moment(end) or dt.datetime.now(dt.UTC)
    start, before = stop - dt.timedelta(days=days), stop - dt.timedelta(days=2 * days)
    recent = {r[by]: r for r in DIMENSIONS[by](store, replace(scope, since=start, until=stop))}
    earlier = {r[by]: r for r in DIMENSIONS[by](store, replace(scope, since=before, until=start))}
    rows = []
    for key in sorted(set(recent) | set(earlier), key=lambda k: (k == UNKNOWN, str(k))):
        now, then = recent.get(key, {}), earlier.get(key, {})
        rate, previous = now.get("spans_per_1000_words", 0.0), then.get("spans_per_1000_words", 0.0)
        rows.append(
            {
                by: key,
                "period": f"{start.date().isoformat()} to {(stop - dt.timedelta(seconds=1)).date().isoformat()}",
                "documents": now.get("documents", 0),
                "spans": now.get("spans", 0),
                "spans_per_1000_words": rate,
                "previous_documents": then.get("documents", 0),
                "previous_spans": then.get("spans", 0),
                "previous_spans_per_1000_words": previous,
                "change": round(rate / previous - 1, 4) if previous else None,
            }
        )
    return rows
