"""`spinlens batch`: register inputs, then analyse what is pending, committing results in small transactions.

Crash safety comes from the store, not from this loop: registration is idempotent per input reference, an
analysis is unique per (document, model, version), and a result is committed with its spans in one transaction.
A run killed at any point and started again analyses exactly the documents that have no committed result.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from spinlens.detect.pipeline import model_identity
from spinlens.document import Analysis, Document
from spinlens.progress import progress
from spinlens.scale.executors import EXECUTORS, ExecutorConfig
from spinlens.sources import Options, iter_items
from spinlens.store import Store
from spinlens.store.db import Registered


@dataclass
class Summary:
    registered: Registered = field(default_factory=Registered)
    analysed: int = 0
    failed: int = 0  # documents whose analysis failed
    failures: list[tuple[str, str]] = field(default_factory=list)  # (reference, reason), the first 100 of this run
    seconds: float = 0.0
    register_seconds: float = 0.0  # reading inputs and registering them
    commit_seconds: float = 0.0  # writing results (inside the analysis phase)

    @property
    def rate(self) -> float:
        return self.analysed / self.seconds if self.seconds else 0.0


def run_batch(
    inputs: Iterable[str | Path],
    store: Store,
    options: Options | None = None,
    executor: str = "pool",
    config: ExecutorConfig | None = None,
    register_every: int = 500,
    commit_every: int = 32,
    commit_seconds: float = 5.0,
) -> Summary:
    """Register every input, then analyse every pending document in the store with ``executor``."""
    config = config or ExecutorConfig()
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; expected one of {sorted(EXECUTORS)}")
    started = time.monotonic()
    summary = Summary()
    items = progress(iter_items(inputs, options), "reading")
    while batch := list(islice(items, register_every)):
        registered = store.register([(it.ref, it.document, it.error) for it in batch])
        _add(summary.registered, registered)
        summary.failures.extend(registered.failures[: max(0, 100 - len(summary.failures))])

    summary.register_seconds = time.monotonic() - started
    name, version = model_identity(config.model)
    total = store.count_pending(name, version)
    results = EXECUTORS[executor](_pending(store, name, version), config)
    done: list[tuple[int, Analysis]] = []
    failed: list[tuple[int, str]] = []
    last_commit = time.monotonic()
    for doc_id, result in progress(results, "analysing", total=total):
        if isinstance(result, str):
            failed.append((doc_id, result))
        else:
            done.append((doc_id, result))
        if len(done) + len(failed) >= commit_every or time.monotonic() - last_commit > commit_seconds:
            _commit(store, summary, done, failed, f"{name}/{version}")
            done, failed, last_commit = [], [], time.monotonic()
    _commit(store, summary, done, failed, f"{name}/{version}")
    summary.seconds = time.monotonic() - started
    return summary


def _pending(store: Store, model: str, version: str, page: int = 256) -> Iterator[tuple[int, Document]]:
    """Pending documents by increasing id; keyset pages, so results committed meanwhile do not shift the pages."""
    after = 0
    while rows := store.pending(model, version, after_id=after, limit=page):
        yield from rows
        after = rows[-1][0]


def _commit(store: Store, summary: Summary, done: list, failed: list, model: str) -> None:  # type: ignore[type-arg]
    if not done and not failed:
        return
    started = time.monotonic()
    summary.analysed += store.save_results(done, failed, model=model)
    summary.failed += len(failed)
    refs = store.refs([doc_id for doc_id, _ in failed]) if failed else {}
    for doc_id, reason in failed:
        if len(summary.failures) < 100:
            summary.failures.append((refs.get(doc_id, str(doc_id)), reason))
    summary.commit_seconds += time.monotonic() - started


def _add(total: Registered, more: Registered) -> None:
    total.new += more.new
    total.duplicates += more.duplicates
    total.known += more.known
    total.failed += more.failed
