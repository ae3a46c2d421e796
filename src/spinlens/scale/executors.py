"""Where analyses run. Each executor turns a stream of (document id, Document) into (document id, Analysis or the
reason it failed), in any order, loading the model once per worker.

- ``local``: this process (torch uses every core for one document at a time).
- ``pool``: a process pool, one model per worker process, cores shared out among them.
- ``ray``: Ray Data actors on a Ray cluster (see `spinlens.scale.ray_executor`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from itertools import islice

from spinlens.document import Analysis, Document

Result = tuple[int, Analysis | str]


@dataclass(frozen=True)
class ExecutorConfig:
    model: str | None = None
    workers: int | None = None  # pool: processes; ray: actors (None: one per core)
    chunk_size: int = 8  # documents per task (they share encoder batches)
    ray_address: str | None = None
    ray_stall_timeout: float = 600.0  # ray: seconds without a result before the run stops (commits, exit 75)
    catalogues: tuple[str, ...] = ()  # catalogues of known claims every text is matched against (`spinlens.load`)
    db: str | None = None  # the database that holds them

    def load(self, threads: int | None = None):  # type: ignore[no-untyped-def]
        """This configuration's `spinlens.load()`, in a worker: the model, with the catalogues."""
        import spinlens

        return spinlens.load(self.model, threads=threads, catalogues=list(self.catalogues) or None, db=self.db)


def analyse_chunk(nlp, chunk: list[tuple[int, Document]]) -> list[Result]:  # type: ignore[no-untyped-def]
    """Analyse a chunk together; if that fails, one by one, so that one bad document fails alone."""
    try:
        return list(zip([i for i, _ in chunk], nlp.pipe([d for _, d in chunk], batch_size=len(chunk)), strict=True))
    except Exception:  # noqa: BLE001 - any failure of one document must not stop a corpus
        results: list[Result] = []
        for doc_id, doc in chunk:
            try:
                results.append((doc_id, nlp(doc)))
            except Exception as exc:  # noqa: BLE001
                results.append((doc_id, f"analysis failed: {type(exc).__name__}: {exc}"))
        return results


def _chunks(items: Iterable[tuple[int, Document]], size: int) -> Iterator[list[tuple[int, Document]]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def run_local(items: Iterable[tuple[int, Document]], config: ExecutorConfig) -> Iterator[Result]:
    nlp = config.load().warm_up()
    for chunk in _chunks(items, config.chunk_size):
        yield from analyse_chunk(nlp, chunk)


_WORKER_NLP = None
PARENT_POLL_SECONDS = 1.0  # how often a worker checks that the process that started it is still alive


def die_with_parent(parent: int) -> None:
    """End this process as soon as ``parent`` (the pid that started it) dies, even by SIGKILL.

    On Linux the kernel sends SIGKILL (PR_SET_PDEATHSIG); everywhere, a daemon thread also polls the parent pid,
    which changes when the process is re-parented. Without this a worker blocked on its task pipe lives forever.
    (The kernel's signal comes when the parent's thread that started the worker ends: `run_pool`'s caller, which
    outlives its pool.)
    """
    import signal
    import sys
    import threading

    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        with contextlib.suppress(OSError, AttributeError):  # no prctl here: the thread below does it
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the line above ran
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="spinlens-parent-watch", daemon=True).start()


def _init_worker(config: ExecutorConfig, threads: int, parent: int) -> None:
    global _WORKER_NLP
    import signal

    die_with_parent(parent)
    # Ctrl-C and SIGTERM are the parent's to handle: it stops handing out work, commits and ends the pool
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

    _WORKER_NLP = config.load(threads).warm_up()


def _pool_task(chunk: list[tuple[int, Document]]) -> list[Result]:
    return analyse_chunk(_WORKER_NLP, chunk)


WORKER_BYTES = 900_000_000  # resident size of one worker with the model loaded (measured: 0.7-0.9 GB)


def default_workers() -> int:
    """One worker per core, as many as the free memory holds."""
    cores = os.cpu_count() or 1
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not on Linux: trust the cores
        return cores
    return max(1, min(cores, free // WORKER_BYTES))


def run_pool(items: Iterable[tuple[int, Document]], config: ExecutorConfig) -> Iterator[Result]:
    cores = os.cpu_count() or 1
    workers = config.workers or default_workers()
    threads = max(1, cores // workers)
    # spawn: a fresh interpreter per worker (forking a process that may hold torch threads can deadlock)
    ctx = multiprocessing.get_context("spawn")
    initargs = (config, threads, os.getpid())
    ex = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=initargs)
    try:
        pending: set[Future] = set()
        for chunk in _chunks(items, config.chunk_size):
            pending.add(ex.submit(_pool_task, chunk))
            if len(pending) >= 2 * workers:  # bounded: memory stays flat on a corpus of millions
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield from future.result()
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield from future.result()
    except BaseException:  # interrupted, stopped, or closed by the caller: chunks in flight are not waited for
        _kill_workers(ex)
        raise
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


def _kill_workers(ex: ProcessPoolExecutor) -> None:
    """Kill the pool's workers now: their results in flight would be lost anyway, and a chunk can take long."""
    for process in list((getattr(ex, "_processes", None) or {}).values()):
        with contextlib.suppress(OSError, ValueError):
            process.kill()


def run_ray(items: Iterable[tuple[int, Document]], config: ExecutorConfig) -> Iterator[Result]:
    from spinlens.scale.ray_executor import run_ray as _run

    yield from _run(items, config)


EXECUTORS: dict[str, Callable[[Iterable[tuple[int, Document]], ExecutorConfig], Iterator[Result]]] = {
    "local": run_local,
    "pool": run_pool,
    "ray": run_ray,
}
