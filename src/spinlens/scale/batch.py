"""`spinlens batch`: register inputs, then analyse what is pending, committing results in small transactions.

Crash safety comes from the store, not from this loop: registration is idempotent per input reference, an
analysis is unique per (document, model, version), and a result is committed with its spans in one transaction.
A run killed at any point and started again analyses exactly the documents that have no committed result.
One run at a time per database (`Store.lock_run`); an interrupted run (Ctrl-C, SIGTERM) commits the results it has.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import BrokenExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from spinlens.detect.pipeline import model_identity
from spinlens.document import Analysis, Document
from spinlens.progress import progress
from spinlens.scale.executors import EXECUTORS, ExecutorConfig
from spinlens.sources import Item, Options, iter_items
from spinlens.store import Store
from spinlens.store.db import Registered


@dataclass
class Summary:
    registered: Registered = field(default_factory=Registered)
    skipped: Counter[str] = field(default_factory=Counter)  # files a folder walk passed over, by reason
    analysed: int = 0
    failed: int = 0  # documents whose analysis failed
    failures: list[tuple[str, str]] = field(default_factory=list)  # (reference, reason), the first 100 of this run
    seconds: float = 0.0  # the whole run
    register_seconds: float = 0.0  # reading inputs and registering them
    analyse_seconds: float = 0.0  # analysing what is pending (model loading and commits included)
    commit_seconds: float = 0.0  # writing results (inside the analysis phase)

    @property
    def failed_inputs(self) -> int:
        """Inputs that could not be read (this time or, still, as before) plus documents whose analysis failed:
        non-zero makes `batch` exit 1."""
        return self.registered.failed + self.registered.still_failing + self.failed

    @property
    def rate(self) -> float:
        """Documents analysed per second of analysis (registering a large corpus does not dilute it)."""
        return self.analysed / self.analyse_seconds if self.analyse_seconds else 0.0


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: the run commits what it has and stops."""


_COMMITTING = threading.Event()  # a commit is in progress: SIGTERM waits until it is done
_SIGTERM_PENDING = threading.Event()


@contextmanager
def sigterm_after() -> Iterator[None]:
    """SIGTERM inside this block takes effect at its end (seen: an interrupt within a commit left the SQLite
    database locked for the run's own last write, which then failed after 30 s with a traceback)."""
    _COMMITTING.set()
    try:
        yield
    finally:
        _COMMITTING.clear()
    if _SIGTERM_PENDING.is_set():
        _SIGTERM_PENDING.clear()
        raise Terminated()


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within this block SIGTERM raises `Terminated` (in the main thread; elsewhere it changes nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        if _COMMITTING.is_set():  # raised inside SQLAlchemy's commit it could leave the database locked
            _SIGTERM_PENDING.set()
            return
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
    with holding(store):
        summary = Summary()
        return run_items(
            iter_items(inputs, options, summary.skipped),
            store,
            executor,
            config,
            register_every,
            commit_every,
            commit_seconds,
            summary,
        )


def run_items(
    items: Iterable[Item],
    store: Store,
    executor: str = "pool",
    config: ExecutorConfig | None = None,
    register_every: int = 500,
    commit_every: int = 32,
    commit_seconds: float = 5.0,
    summary: Summary | None = None,
) -> Summary:
    """Register ``items``, then analyse every pending document, in a store whose run lock the caller holds
    (`holding`): `run_batch` once, `spinlens watch` every round."""
    config = config or ExecutorConfig()
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; expected one of {sorted(EXECUTORS)}")
    started = time.monotonic()
    summary = summary or Summary()
    try:
        _register(items, store, summary, register_every)
        summary.register_seconds = time.monotonic() - started
        _analyse(store, summary, executor, config, commit_every, commit_seconds)
    finally:
        summary.seconds = time.monotonic() - started
    return summary


HEARTBEAT_SECONDS = 30.0


@contextmanager
def holding(store: Store) -> Iterator[None]:
    """Hold the store's run lock, its heartbeat renewed by a thread (a slow document does not make the run look
    dead); commits renew it too, and stop the run if another run has taken the lock over."""
    store.lock_run()
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            with suppress(Exception):  # the main thread reports a lost lock or a lost database at its next commit
                store.beat_run()

    thread = threading.Thread(target=beat, name="spinlens-run-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        store.unlock_run()


def _register(items: Iterable[Item], store: Store, summary: Summary, every: int) -> None:
    items = progress(items, "reading")
    while batch := list(islice(items, every)):
        with sigterm_after():  # a transaction of its own, like a commit of results
            registered = store.register([(it.ref, it.document, it.error, it.key) for it in batch])
        _add(summary.registered, registered)
        summary.failures.extend(registered.failures[: max(0, 100 - len(summary.failures))])
        store.beat_run()


def _analyse(
    store: Store, summary: Summary, executor: str, config: ExecutorConfig, commit_every: int, commit_seconds: float
) -> None:
    """Analyse every pending document; on an interrupt, commit the results that have come back, then re-raise."""
    started = time.monotonic()
    name, version = model_identity(config.model)
    model = f"{name}/{version}"
    total = store.count_pending(name, version)
    results = EXECUTORS[executor](_pending(store, name, version), config)
    stream = progress(results, "analysing", total=total)
    done: list[tuple[int, Analysis]] = []
    failed: list[tuple[int, str]] = []
    last_commit = time.monotonic()
    try:
        for doc_id, result in stream:
            if isinstance(result, str):
                failed.append((doc_id, result))
            else:
                done.append((doc_id, result))
            if len(done) + len(failed) >= commit_every or time.monotonic() - last_commit > commit_seconds:
                _commit(store, summary, done, failed, model)
                last_commit = time.monotonic()
        _commit(store, summary, done, failed, model)
    except (KeyboardInterrupt, BrokenExecutor):  # Ctrl-C, SIGTERM or a dead worker: keep what came back
        with _deferred_sigterm():
            stream.close()
            results.close()  # ends the workers
            _commit(store, summary, done, failed, model)  # again, if the interrupt hit a commit
        raise
    finally:
        summary.analyse_seconds = time.monotonic() - started


@contextmanager
def _deferred_sigterm() -> Iterator[None]:
    """A second SIGTERM while the last results are being committed waits until they are (Ctrl-C still works)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _pending(store: Store, model: str, version: str, page: int = 256) -> Iterator[tuple[int, Document]]:
    """Pending documents by increasing id; keyset pages, so results committed meanwhile do not shift the pages."""
    after = 0
    while rows := store.pending(model, version, after_id=after, limit=page):
        yield from rows
        after = rows[-1][0]


@sigterm_after()
def _commit(store: Store, summary: Summary, done: list, failed: list, model: str) -> None:  # type: ignore[type-arg]
    """Save ``done`` and ``failed`` in one transaction and empty them (a retry after an interrupt adds nothing)."""
    if not done and not failed:
        return
    started = time.monotonic()
    added = store.save_results(done, failed, model=model)
    failures = list(failed)
    done.clear()
    failed.clear()
    summary.analysed += added
    summary.failed += len(failures)
    refs = store.refs([doc_id for doc_id, _ in failures]) if failures else {}
    for doc_id, reason in failures:
        if len(summary.failures) < 100:
            summary.failures.append((refs.get(doc_id, str(doc_id)), reason))
    store.beat_run()
    summary.commit_seconds += time.monotonic() - started


def _add(total: Registered, more: Registered) -> None:
    total.new += more.new
    total.duplicates += more.duplicates
    total.known += more.known
    total.failed += more.failed
    total.still_failing += more.still_failing
    total.changed += more.changed
    total.changes.extend(more.changes[: max(0, 100 - len(total.changes))])
