"""Alerts: rules over what arrives in a store, each alert raised once, kept in the store and delivered.

Rules (each a small frozen dataclass; in a TOML or JSON file, `load_rules`):

- `TechniqueRate`: an outlet's rate of a technique (spans per 1,000 words) over the last ``days`` days is at least
  ``ratio`` times its own rate over the ``baseline_days`` before, the recent rate's 95% lower bound is above the
  baseline, and both periods have enough articles. "When" is the publication date, else the arrival.
- `NewTarget`: a name-calling span aimed at a target (`textutil.likely_target`) never seen before. The first
  evaluation on a store learns the targets already there without alerting.
- `NarrativeSpread`: one catalogued narrative matched in articles of at least ``outlets`` outlets within ``days``
  days. It reads a table of narrative matches (one with ``claim_id`` and ``analysis_id`` columns, written by the
  narrative matcher); where a store has none, the rule says so once and is skipped.

An alert has a key (rule, outlet, subject, day): the same condition in the next round raises nothing new. Alerts
are delivered to a JSON-lines file and to a webhook (POST, JSON; retried with exponential backoff, and again in
later rounds until delivered); `spinlens alerts` lists them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
import urllib.request
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import DateTime, Integer, String, Text, func, inspect, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from spinlens.errors import SpinlensError
from spinlens.store import Store
from spinlens.store.schema import AnalysisRow, Base, DocumentRow, SpanRow, _utc, ref_key


class AlertRow(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the rule's key: raised once
    rule: Mapped[str] = mapped_column(String(40))
    outlet: Mapped[str | None] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(Text)  # the technique, target or narrative
    message: Mapped[str] = mapped_column(Text)
    details_json: Mapped[str] = mapped_column(Text, default="{}")
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    to_file: Mapped[int] = mapped_column(Integer, default=0)  # 1: written to the JSON-lines file
    to_webhook: Mapped[int] = mapped_column(Integer, default=0)  # 1: the webhook answered 2xx
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # webhook attempts so far
    last_error: Mapped[str | None] = mapped_column(Text)


class MonitorState(Base):
    """Small named values the rules keep between rounds (e.g. the last analysis whose targets were learnt)."""

    __tablename__ = "monitor_state"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class KnownTarget(Base):
    __tablename__ = "monitor_targets"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the case-folded target
    target: Mapped[str] = mapped_column(Text)
    first_seen: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


def create_tables(store: Store) -> None:
    tables = [AlertRow.__table__, MonitorState.__table__, KnownTarget.__table__]
    Base.metadata.create_all(store.engine, tables=tables)  # type: ignore[arg-type]


@dataclass
class Alert:
    rule: str
    key: str
    subject: str
    message: str
    outlet: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    created: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    id: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.rule,
            "outlet": self.outlet,
            "subject": self.subject,
            "message": self.message,
            "details": self.details,
            "created": self.created.isoformat(),
        }


# --- rules ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TechniqueRate:
    kind: ClassVar[str] = "technique_rate"
    techniques: tuple[str, ...] = ()  # PTC names; empty: every technique
    days: int = 1
    baseline_days: int = 30
    ratio: float = 2.0
    min_articles: int = 3  # in the recent period
    min_baseline_articles: int = 5

    def __post_init__(self) -> None:
        from spinlens import taxonomy

        known = [t.name for t in taxonomy.techniques("ptc14")]
        unknown = [t for t in self.techniques if t not in known]
        if unknown:
            raise ValueError(f"unknown technique {unknown[0]!r} (techniques: {', '.join(known)})")

    def check(self, store: Store, watermark: int, now: dt.datetime) -> list[Alert]:
        from spinlens.store import stats as st

        with Session(store.engine) as s:
            outlets = set(
                s.scalars(select(DocumentRow.outlet).where(DocumentRow.id > watermark, DocumentRow.outlet.isnot(None)))
            )
        scope = _scope(store)
        if not outlets or scope is None:
            return []
        recent, start = now - dt.timedelta(days=self.days), now - dt.timedelta(days=self.days + self.baseline_days)
        when = func.coalesce(DocumentRow.published, DocumentRow.added)
        period = (when >= recent).label("recent")
        base = (
            select(DocumentRow)
            .join(AnalysisRow, st._analysed(scope))
            .where(DocumentRow.outlet.in_(outlets), when >= start)
        )
        with Session(store.engine) as s:
            totals = {
                (o, bool(r)): (n, int(w or 0))
                for o, r, n, w in s.execute(
                    base.with_only_columns(
                        DocumentRow.outlet, period, func.count(DocumentRow.id), func.sum(DocumentRow.n_words)
                    ).group_by(DocumentRow.outlet, period)
                )
            }
            spans = {
                (o, bool(r), t): n
                for o, r, t, n in s.execute(
                    base.join(SpanRow, SpanRow.analysis_id == AnalysisRow.id)
                    .with_only_columns(DocumentRow.outlet, period, SpanRow.technique, func.count(SpanRow.id))
                    .group_by(DocumentRow.outlet, period, SpanRow.technique)
                )
            }
        techniques = self.techniques or tuple(sorted({t for _, _, t in spans}))
        alerts = []
        for outlet in sorted(outlets):
            (n_recent, w_recent), (n_base, w_base) = (
                totals.get((outlet, True), (0, 0)),
                totals.get((outlet, False), (0, 0)),
            )
            if n_recent < self.min_articles or n_base < self.min_baseline_articles or not w_recent or not w_base:
                continue
            for technique in techniques:
                k_recent, k_base = spans.get((outlet, True, technique), 0), spans.get((outlet, False, technique), 0)
                rate, baseline = k_recent * 1000 / w_recent, k_base * 1000 / w_base
                low, _ = st.poisson_interval(k_recent, w_recent / 1000)
                if rate <= 0 or rate < self.ratio * baseline or low <= baseline:
                    continue
                from spinlens.taxonomy import display_name

                alerts.append(
                    Alert(
                        rule=self.kind,
                        key=f"{self.kind}|{outlet}|{technique}|{now.date().isoformat()}",
                        outlet=outlet,
                        subject=technique,
                        message=(
                            f"{outlet}: {display_name(technique)} at {rate:.1f} per 1,000 words over the last "
                            f"{self.days} day(s) ({k_recent} spans in {n_recent} articles), against {baseline:.1f} "
                            f"over the {self.baseline_days} days before ({k_base} in {n_base})"
                        ),
                        details={
                            "technique": technique,
                            "rate": round(rate, 3),
                            "rate_low": round(low, 3),
                            "baseline": round(baseline, 3),
                            "spans": k_recent,
                            "articles": n_recent,
                            "baseline_spans": k_base,
                            "baseline_articles": n_base,
                            "days": self.days,
                            "baseline_days": self.baseline_days,
                        },
                    )
                )
        return alerts


@dataclass(frozen=True)
class NewTarget:
    kind: ClassVar[str] = "new_target"
    techniques: tuple[str, ...] = ("Name_Calling,Labeling",)
    learn_first: bool = True  # the first evaluation learns the targets already in the store, without alerting

    def check(self, store: Store, watermark: int, now: dt.datetime) -> list[Alert]:
        from spinlens.textutil import likely_target

        state = _state(store, f"{self.kind}.analysis")
        with Session(store.engine) as s:
            last = s.scalar(select(func.max(AnalysisRow.id))) or 0
            after = int(state) if state is not None else 0
            rows = s.execute(
                select(
                    SpanRow.start, SpanRow.end, DocumentRow.text, DocumentRow.outlet, SpanRow.snippet, AnalysisRow.id
                )
                .join(AnalysisRow, SpanRow.analysis_id == AnalysisRow.id)
                .join(DocumentRow, AnalysisRow.document_id == DocumentRow.id)
                .where(SpanRow.technique.in_(self.techniques), AnalysisRow.id > after, AnalysisRow.id <= last)
                .order_by(SpanRow.id)
            ).all()
            known = set(s.scalars(select(KnownTarget.key)))
            alerts = []
            for start, end, text, outlet, snippet, _ in rows:
                target = likely_target(text, start, end)
                if not target or (key := ref_key(target.casefold())) in known:
                    continue
                known.add(key)
                s.add(KnownTarget(key=key, target=target, first_seen=now))
                if state is None and self.learn_first:
                    continue
                alerts.append(
                    Alert(
                        rule=self.kind,
                        key=f"{self.kind}|{target.casefold()}",
                        outlet=outlet,
                        subject=target,
                        message=f"new name-calling target {target!r}"
                        + (f" in {outlet}" if outlet else "")
                        + f': "{snippet[:200]}"',
                        details={"target": target, "phrase": snippet[:300]},
                    )
                )
            s.commit()
        _set_state(store, f"{self.kind}.analysis", str(last))
        return alerts


MATCH_TABLES = ("narrative_matches", "narratives", "matches")  # where the narrative matcher keeps its matches


@dataclass(frozen=True)
class NarrativeSpread:
    kind: ClassVar[str] = "narrative_outlets"
    outlets: int = 3
    days: int = 7

    def matches_table(self, store: Store) -> str | None:
        """The table of narrative matches in this store (``claim_id`` and ``analysis_id`` columns), if any."""
        tables = inspect(store.engine)
        for name in MATCH_TABLES:
            if name in tables.get_table_names():
                columns = {c["name"] for c in tables.get_columns(name)}
                if {"claim_id", "analysis_id"} <= columns:
                    return name
        return None

    def check(self, store: Store, watermark: int, now: dt.datetime) -> list[Alert]:
        from sqlalchemy import MetaData, Table

        name = self.matches_table(store)
        if name is None:
            return []
        matches = Table(name, MetaData(), autoload_with=store.engine)
        when = func.coalesce(DocumentRow.published, DocumentRow.added)
        n_outlets = func.count(func.distinct(DocumentRow.outlet))
        q = (
            select(matches.c.claim_id, n_outlets)
            .join(AnalysisRow, AnalysisRow.id == matches.c.analysis_id)
            .join(DocumentRow, DocumentRow.id == AnalysisRow.document_id)
            .where(when >= now - dt.timedelta(days=self.days), DocumentRow.superseded_by.is_(None))
            .group_by(matches.c.claim_id)
            .having(n_outlets >= self.outlets)
        )
        with Session(store.engine) as s:
            spread = s.execute(q).all()
        return [
            Alert(
                rule=self.kind,
                key=f"{self.kind}|{claim}|{now.date().isoformat()}",
                subject=str(claim),
                message=f"narrative {claim} seen in {n} outlets over the last {self.days} days",
                details={"claim_id": claim, "outlets": n, "days": self.days},
            )
            for claim, n in spread
        ]


RULES = {rule.kind: rule for rule in (TechniqueRate, NewTarget, NarrativeSpread)}
DEFAULT_RULES: tuple = (TechniqueRate(), NewTarget(), NarrativeSpread())


def rule_notes(store: Store, rules) -> list[str]:  # type: ignore[no-untyped-def]
    """What the user must know about these rules on this store (a rule that will be skipped, and why)."""
    return [
        "narrative_outlets rule skipped: this database has no narrative matches (a table "
        f"{' / '.join(MATCH_TABLES)} with claim_id and analysis_id)"
        for rule in rules
        if isinstance(rule, NarrativeSpread) and rule.matches_table(store) is None
    ]


def evaluate(store: Store, rules, watermark: int, now: dt.datetime | None = None) -> list[Alert]:  # type: ignore[no-untyped-def]
    """Evaluate ``rules`` over what arrived after document ``watermark``; store and return the alerts not raised
    before."""
    now = now or dt.datetime.now(dt.UTC)
    create_tables(store)
    raised = [alert for rule in rules for alert in rule.check(store, watermark, now)]
    new = []
    with Session(store.engine) as s, s.begin():
        stored = set(s.scalars(select(AlertRow.key).where(AlertRow.key.in_([ref_key(a.key) for a in raised]))))
        for alert in raised:
            if ref_key(alert.key) in stored:
                continue
            stored.add(ref_key(alert.key))
            row = AlertRow(
                key=ref_key(alert.key),
                rule=alert.rule,
                outlet=alert.outlet,
                subject=alert.subject,
                message=alert.message,
                details_json=json.dumps(alert.details, ensure_ascii=False),
                created=alert.created,
            )
            s.add(row)
            s.flush()
            alert.id = row.id
            new.append(alert)
    return new


def _scope(store: Store):  # type: ignore[no-untyped-def]
    from spinlens.store import stats as st

    try:
        return st.choose_scope(store)
    except SpinlensError:
        return None


def _state(store: Store, name: str) -> str | None:
    with Session(store.engine) as s:
        row = s.get(MonitorState, name)
        return row.value if row else None


def _set_state(store: Store, name: str, value: str) -> None:
    with Session(store.engine) as s, s.begin():
        s.merge(MonitorState(name=name, value=value))


def load_rules(path: str | Path) -> tuple[tuple, Delivery]:  # type: ignore[type-arg]
    """Rules and delivery from a TOML (``.toml``) or JSON file::

        [[rule]]
        type = "technique_rate"   # or new_target, narrative_outlets
        days = 1
        baseline_days = 30

        [deliver]
        jsonl = "alerts.jsonl"
        webhook = "https://hooks.example.org/spinlens"

    SpinlensError, naming the file and the key, for anything else.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        if path.suffix.lower() == ".json":
            data = json.loads(raw)
        else:
            import tomllib

            data = tomllib.loads(raw.decode("utf-8"))
    except OSError as exc:
        raise SpinlensError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise SpinlensError(
            f"{path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'TOML'}: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise SpinlensError(f"{path}: expected a table of [[rule]] and [deliver]")
    unknown = set(data) - {"rule", "deliver"}
    if unknown:
        raise SpinlensError(f"{path}: unknown section {sorted(unknown)[0]!r} (expected [[rule]] and [deliver])")
    rules = tuple(_rule(path, n, spec) for n, spec in enumerate(data.get("rule", []), start=1))
    deliver = data.get("deliver", {})
    if not isinstance(deliver, dict):
        raise SpinlensError(f"{path}: [deliver] must be a table")
    return rules, _build(Delivery, deliver, f"{path}: [deliver]")


_PAIRS = re.compile(r",(?=\s*\w+\s*=)")  # a comma before the next key=: "Name_Calling,Labeling" stays one value


def parse_rule(spec: str):  # type: ignore[no-untyped-def]
    """A rule from the command line: ``TYPE`` or ``TYPE:key=value,key=value`` (a list's items joined by ``|``), e.g.
    ``technique_rate:days=1,ratio=3,techniques=Loaded_Language|Doubt``; SpinlensError naming what is wrong."""
    kind, _, rest = spec.partition(":")
    values: dict[str, Any] = {"type": kind.strip()}
    for pair in filter(None, (p.strip() for p in _PAIRS.split(rest))):
        key, eq, raw = pair.partition("=")
        if not eq:
            raise SpinlensError(f"--rule {spec!r}: expected key=value, got {pair!r}")
        values[key.strip()] = _value(raw.strip(), key.strip(), RULES.get(values["type"]))
    return _rule(Path("--rule"), 1, values)


def _value(raw: str, key: str, cls) -> Any:  # type: ignore[no-untyped-def]
    default = next((f.default for f in fields(cls) if f.name == key), None) if cls else None
    if isinstance(default, tuple):
        return [item for item in raw.split("|") if item]
    if isinstance(default, bool):
        return raw.lower() in ("1", "true", "yes")
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw


def _rule(path: Path, number: int, spec: Any):  # type: ignore[no-untyped-def]
    where = f"{path}: rule {number}"
    if not isinstance(spec, dict) or spec.get("type") not in RULES:
        raise SpinlensError(f"{where}: 'type' must be one of {', '.join(RULES)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in spec.items() if k != "type"}
    return _build(RULES[spec["type"]], values, where)


def _build(cls, spec: dict, where: str):  # type: ignore[no-untyped-def,type-arg]
    """``cls(**spec)``, or SpinlensError naming the key that is unknown or of the wrong type."""
    defaults = {f.name: f.default for f in fields(cls)}
    for key, value in spec.items():
        if key not in defaults:
            raise SpinlensError(f"{where}: unknown key {key!r} (expected {', '.join(sorted(defaults))})")
        default = defaults[key]
        number = isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool)
        if default is not None and not isinstance(value, type(default)) and not number:
            raise SpinlensError(f"{where}: {key!r} must be a {type(default).__name__}, not {value!r}")
    try:
        return cls(**spec)
    except ValueError as exc:
        raise SpinlensError(f"{where}: {exc}") from None


# --- delivery -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    jsonl: str | None = None  # a file alerts are appended to, one JSON object a line
    webhook: str | None = None  # a URL alerts are POSTed to (JSON), one request each
    retries: int = 4  # attempts per alert in one round
    backoff: float = 1.0  # seconds before the second attempt; doubled after each
    timeout: float = 10.0
    keep_trying_days: int = 2  # an alert the webhook never took is given up after this long


@dataclass
class Delivered:
    to_file: int = 0
    to_webhook: int = 0
    failed: list[str] = field(default_factory=list)  # one line each: which alert, why


def deliver(store: Store, delivery: Delivery) -> Delivered:
    """Deliver the alerts not delivered yet: append them to the JSON-lines file, POST them to the webhook."""
    from spinlens.scale.batch import sigterm_after

    report = Delivered()
    with Session(store.engine) as s:
        if delivery.jsonl:
            rows = s.scalars(select(AlertRow).where(AlertRow.to_file == 0).order_by(AlertRow.id)).all()
            if rows:
                with sigterm_after():
                    _append(Path(delivery.jsonl), [_alert(r).as_json() for r in rows])
                    for r in rows:
                        r.to_file = 1
                    s.commit()
                report.to_file = len(rows)
        if delivery.webhook:
            since = dt.datetime.now(dt.UTC) - dt.timedelta(days=delivery.keep_trying_days)
            rows = s.scalars(
                select(AlertRow).where(AlertRow.to_webhook == 0, AlertRow.created >= since).order_by(AlertRow.id)
            ).all()
            for r in rows:
                error = post(delivery.webhook, _alert(r).as_json(), delivery)
                r.attempts = (r.attempts or 0) + (delivery.retries if error else 1)
                r.to_webhook, r.last_error = (0, error) if error else (1, None)
                with sigterm_after():
                    s.commit()  # one at a time: a crash does not send an alert twice
                if error:
                    report.failed.append(f"alert {r.id}: {error}")
                else:
                    report.to_webhook += 1
    return report


def _append(path: Path, records: list[dict]) -> None:  # type: ignore[type-arg]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def post(url: str, payload: dict, delivery: Delivery) -> str | None:  # type: ignore[type-arg]
    """POST ``payload`` as JSON, retrying with exponential backoff; None when delivered, else the last error."""
    from spinlens.monitor.fetch import USER_AGENT, is_url

    if not is_url(url):
        return f"{url}: not an http(s) URL"
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    error = None
    for attempt in range(max(1, delivery.retries)):
        if attempt:
            time.sleep(delivery.backoff * 2 ** (attempt - 1))
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json", "User-Agent": USER_AGENT}
        )
        try:
            with urllib.request.urlopen(request, timeout=delivery.timeout) as response:  # noqa: S310 - http(s) only
                if 200 <= response.status < 300:
                    return None
                error = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            error = f"HTTP {exc.code} {exc.reason}"
        except (urllib.error.URLError, OSError) as exc:
            error = str(getattr(exc, "reason", exc))
    return f"{url}: {error} (after {max(1, delivery.retries)} attempts)"


def _alert(row: AlertRow) -> Alert:
    return Alert(
        rule=row.rule,
        key=row.key,
        subject=row.subject,
        message=row.message,
        outlet=row.outlet,
        details=json.loads(row.details_json or "{}"),
        created=_utc(row.created),
        id=row.id,
    )


def list_alerts(store: Store, since: dt.datetime | None = None, limit: int = 100) -> list[dict]:  # type: ignore[type-arg]
    """The most recent alerts first, with where each was delivered."""
    create_tables(store)
    q = select(AlertRow).order_by(AlertRow.id.desc()).limit(limit)
    if since is not None:
        q = q.where(AlertRow.created >= since)
    with Session(store.engine) as s:
        return [
            {**_alert(r).as_json(), "to_file": bool(r.to_file), "to_webhook": bool(r.to_webhook), "error": r.last_error}
            for r in s.scalars(q)
        ]


__all__ = [
    "DEFAULT_RULES",
    "Alert",
    "Delivery",
    "NarrativeSpread",
    "NewTarget",
    "TechniqueRate",
    "deliver",
    "evaluate",
    "list_alerts",
    "load_rules",
    "parse_rule",
]
