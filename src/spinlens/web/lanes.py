"""Where the server's analyses run, so that one big request cannot stall everyone.

- **Two lanes.** A request whose documents total fewer than ``short_chars`` characters goes to the short lane,
  any other to the long lane; each lane is one worker thread. While the short lane has work, the long lane waits
  between two model passes, so a five-word text is answered in its own time while a 1 MB text is analysed.
- **A bounded queue.** At most ``max_pending`` analyses are admitted at once (running or waiting, both lanes
  together); one more is refused at once (`Busy`: 503 with Retry-After) instead of waiting without bound.
- **A time bound.** Each analysis must end within ``timeout`` seconds of being admitted: past it, the request is
  answered 504 (`TimedOut`) and the work stops.
- **Stopping.** `Lanes.stop` (the server's SIGTERM, see `spinlens.web.server`) answers every admitted request 503
  at once and stops the work; the worker threads never hold the process up.

Where work stops: the detector is a chain of model passes (encoder and tagger batches, a fraction of a second each
on a CPU); a torch forward pre-hook checks the worker's job before each one (`Job.checkpoint`). The steps between
two passes run to their end: tokenizing before the first (about a second for 1 MB), and the final decisions
(numpy, a few seconds for 200,000 characters).

Why not cut a long text into windows of sentence units, interleaved with other requests? The detector reads one
unit at a time, but Repetition and the span features count how often a phrase recurs in the whole text
(`spinlens.detect.features.ArticleView.recurrences`), so a text analysed in parts would get other answers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from spinlens.document import Analysis, Document

GIVE_WAY_POLL_S = 0.25  # how often a waiting long-lane job looks at its deadline and at stop()


class Detector(Protocol):
    """What the server needs of a detector (`spinlens.Detector` has it)."""

    name: str
    version: str

    def pipe(self, documents: Iterable[Document], batch_size: int = ...) -> Iterator[Analysis]: ...


class Unavailable(Exception):
    """An analysis refused or stopped: the HTTP status and Retry-After seconds to answer with."""

    status = 503
    retry_after: int | None = None


class Busy(Unavailable):
    retry_after = 5


class Stopping(Unavailable):
    retry_after = 10


class TimedOut(Unavailable):
    status = 504


class _Gone(Exception):
    """The request is no longer waiting for this job (timed out or disconnected): stop working on it."""


@dataclass(eq=False)
class Job:
    lanes: Lanes
    documents: list[Document]
    deadline: float  # time.monotonic()
    long: bool
    future: concurrent.futures.Future[list[Analysis]] = field(default_factory=concurrent.futures.Future)
    abandoned: bool = False  # set by the request when it stops waiting

    def checkpoint(self) -> None:
        """Run by the worker before each model pass: stop when asked; in the long lane, give way to short work."""
        self.lanes.check(self)
        while self.long and self.lanes.short_lane_busy():
            self.lanes.wait_for_short_lane(min(GIVE_WAY_POLL_S, max(0.0, self.deadline - time.monotonic())))
            self.lanes.check(self)


class _Running(threading.local):
    job: Job | None = None


_running = _Running()
_hook_lock = threading.Lock()
_hooked = False


def _checkpoint(_module: object, _inputs: object) -> None:
    job = _running.job
    if job is not None:
        job.checkpoint()


def _install_hook() -> None:
    """Once per process: every torch forward pass in a worker thread first runs its job's checkpoint."""
    global _hooked
    with _hook_lock:
        if not _hooked:
            from torch.nn.modules.module import register_module_forward_pre_hook

            register_module_forward_pre_hook(_checkpoint)
            _hooked = True


class Lanes:
    def __init__(self, max_pending: int = 8, timeout: float = 60.0, short_chars: int = 5_000) -> None:
        self.max_pending, self.timeout, self.short_chars = max_pending, timeout, short_chars
        self._cond = threading.Condition()
        self._admitted: set[Job] = set()
        self._short_running = 0
        self._stopping = False
        self._queues: dict[bool, queue.SimpleQueue[Job | None]] = {
            False: queue.SimpleQueue(),
            True: queue.SimpleQueue(),
        }
        self._detector: Detector | None = None

    # --- the server's side ---

    def start(self, detector: Detector) -> None:
        """Start the two worker threads (daemons: a process that exits does not wait for them)."""
        _install_hook()
        self._detector = detector
        for long in (False, True):
            name = "spinlens-long-lane" if long else "spinlens-short-lane"
            threading.Thread(target=self._work, args=(self._queues[long],), name=name, daemon=True).start()

    def stop(self) -> None:
        """Answer every admitted request 503 now and stop the workers at their next checkpoint."""
        with self._cond:
            self._stopping = True
            jobs = list(self._admitted)
            self._cond.notify_all()
        for job in jobs:
            _settle(job.future, exc=Stopping("the server is shutting down: try again in a moment"))
        for q in self._queues.values():
            q.put(None)

    @property
    def pending(self) -> int:
        """Analyses admitted and not finished (running or waiting)."""
        with self._cond:
            return len(self._admitted)

    async def analyse(self, documents: Sequence[Document]) -> list[Analysis]:
        """The analyses of these documents, in order; `Busy`, `TimedOut` or `Stopping` when they cannot be had."""
        job = self._admit(list(documents))
        try:
            remaining = max(0.0, job.deadline - time.monotonic())
            return await asyncio.wait_for(asyncio.wrap_future(job.future), remaining)
        except TimeoutError:
            raise self._timed_out() from None
        finally:
            job.abandoned = True  # (a no-op when the job is done) the worker drops it at its next checkpoint

    def _admit(self, documents: list[Document]) -> Job:
        with self._cond:
            if self._stopping:
                raise Stopping("the server is shutting down: try again in a moment")
            if len(self._admitted) >= self.max_pending:
                raise Busy(f"the server is busy ({self.max_pending} analyses in progress): try again in a moment")
            long = sum(len(d.text) for d in documents) >= self.short_chars
            job = Job(self, documents, time.monotonic() + self.timeout, long)
            self._admitted.add(job)
        self._queues[long].put(job)
        return job

    # --- the workers' side ---

    def check(self, job: Job) -> None:
        if self._stopping:
            raise Stopping("the server is shutting down: try again in a moment")
        if time.monotonic() > job.deadline:
            raise self._timed_out()
        if job.abandoned:
            raise _Gone

    def _timed_out(self) -> TimedOut:
        return TimedOut(
            f"the analysis took longer than {self.timeout:g} seconds and was stopped: "
            "send a shorter text, or try again when the server is less busy"
        )

    def short_lane_busy(self) -> bool:
        return self._short_running > 0

    def wait_for_short_lane(self, timeout: float) -> None:
        with self._cond:
            if self._short_running and not self._stopping:
                self._cond.wait(timeout)

    def _work(self, jobs: queue.SimpleQueue[Job | None]) -> None:
        while (job := jobs.get()) is not None:
            try:
                started = job.future.set_running_or_notify_cancel()  # False: the request gave up while it waited
            except RuntimeError:  # stop() has answered it already
                started = False
            if started:
                self._run(job)
            with self._cond:
                self._admitted.discard(job)

    def _run(self, job: Job) -> None:
        assert self._detector is not None, "Lanes.start was not called"
        if not job.long:
            with self._cond:
                self._short_running += 1
        _running.job = job
        try:
            job.checkpoint()
            result = list(self._detector.pipe(job.documents))
        except BaseException as exc:  # handed to the request, which answers it (no one waits after _Gone)
            _settle(job.future, exc=exc)
        else:
            _settle(job.future, result=result)
        finally:
            _running.job = None
            if not job.long:
                with self._cond:
                    self._short_running -= 1
                    self._cond.notify_all()


def _settle(
    future: concurrent.futures.Future[list[Analysis]],
    result: list[Analysis] | None = None,
    exc: BaseException | None = None,
) -> None:
    """Give the future its result or exception, unless it has one already (stop() and the worker may race)."""
    try:
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result or [])
    except concurrent.futures.InvalidStateError:
        pass
