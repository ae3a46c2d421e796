"""Where the server's analyses run, so that one big request cannot stall everyone.

- **Two lanes.** A request whose documents total fewer than ``short_chars`` characters goes to the short lane,
  any other to the long lane; each lane is one worker thread. While the short lane has work, the long lane waits
  between two model passes, so a five-word text is answered in its own time while a 1 MB text is analysed.
- **Bounded queues.** At most ``max_pending`` long analyses are admitted at once (running or waiting); one more is
  refused at once (`Busy`: 503 with Retry-After) instead of waiting without bound. Short requests wait in a queue
  of their own, at most ``max_waiting`` of them, each for at most ``max_wait`` seconds before it starts: a team's
  burst of short requests is answered a moment later rather than refused; beyond either bound, `Busy`.
- **Short requests together.** The short lane's worker runs every short request waiting for it (at most
  ``SHORT_BATCH`` documents) as one batch: the model's passes cost little more for 30 sentences than for one. The
  answers do not depend on what else is in the batch (every tier is held to it:
  ``tests/conftest.assert_same_spans_in_any_context``).
- **A time bound.** Each analysis must end within ``timeout`` seconds of being admitted: past it, the request is
  answered 504 (`TimedOut`) and the work stops.
- **Speed.** The long lane measures its characters per second (`Lanes.chars_per_second`), which the page uses to
  estimate how long a long text will take.
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
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from spinlens.document import Analysis, Document

T = TypeVar("T")
GIVE_WAY_POLL_S = 0.25  # how often a waiting long-lane job looks at its deadline and at stop()
SHORT_BATCH = 32  # short requests analysed together, at most (each under short_chars characters)
SPEED_WEIGHT = 0.3  # the weight of the latest long analysis in the measured speed (an exponential average)
DISCONNECT_POLL_S = 0.5  # how often a request waiting for its analysis looks whether its client has gone


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


class Gone(Unavailable):
    """The client left before its answer (a cancelled request): its work has stopped (nobody reads the 499)."""

    status = 499


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
    # set when the job leaves the short lane's waiting room for its worker (at once for any other job)
    admitted: concurrent.futures.Future[None] = field(default_factory=concurrent.futures.Future)

    def checkpoint(self) -> None:
        """Run by the worker before each model pass: stop when asked; in the long lane, give way to short work."""
        self.lanes.check(self)
        while self.long and self.lanes.short_lane_busy():
            self.lanes.wait_for_short_lane(min(GIVE_WAY_POLL_S, max(0.0, self.deadline - time.monotonic())))
            self.lanes.check(self)


@dataclass(eq=False)
class _Batch:
    """Short jobs analysed together: the work stops only when none of them is wanted any more."""

    jobs: list[Job]

    def checkpoint(self) -> None:
        wanted = []
        for job in self.jobs:
            try:
                job.lanes.check(job)
            except Stopping:
                raise
            except (_Gone, TimedOut) as exc:
                _settle(job.future, exc=exc)
            else:
                wanted.append(job)
        if not wanted:
            raise _Gone


class _Running(threading.local):
    job: Job | _Batch | None = None


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
    def __init__(
        self,
        max_pending: int = 8,
        timeout: float = 60.0,
        short_chars: int = 5_000,
        max_waiting: int = 64,
        max_wait: float = 10.0,
    ) -> None:
        self.max_pending, self.timeout, self.short_chars = max_pending, timeout, short_chars
        self.max_waiting, self.max_wait = max_waiting, max_wait
        self._cond = threading.Condition()
        self._admitted: set[Job] = set()  # long jobs admitted, and short jobs given to the short lane's worker
        self._waiting: list[Job] = []  # short jobs not started, oldest first (the short lane's queue)
        self._short_running = 0
        self.chars_per_second: float | None = None  # the long lane's measured speed (None before its first job)
        self._stopping = False
        self._long: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._detector: Detector | None = None

    # --- the server's side ---

    def start(self, detector: Detector) -> None:
        """Start the two worker threads (daemons: a process that exits does not wait for them)."""
        _install_hook()
        self._detector = detector
        threading.Thread(target=self._work_short, name="spinlens-short-lane", daemon=True).start()
        threading.Thread(target=self._work, args=(self._long,), name="spinlens-long-lane", daemon=True).start()

    def stop(self) -> None:
        """Answer every admitted or waiting request 503 now and stop the workers at their next checkpoint."""
        with self._cond:
            self._stopping = True
            jobs = [*self._admitted, *self._waiting]
            self._waiting.clear()
            self._cond.notify_all()
        for job in jobs:
            _settle(job.future, exc=Stopping("the server is shutting down: try again in a moment"))
            _settle(job.admitted)
        self._long.put(None)

    @property
    def pending(self) -> int:
        """Analyses admitted and not finished (running or waiting)."""
        with self._cond:
            return len(self._admitted) + len(self._waiting)

    async def analyse(
        self, documents: Sequence[Document], gone: Callable[[], Awaitable[bool]] | None = None
    ) -> list[Analysis]:
        """The analyses of these documents, in order; `Busy`, `TimedOut` or `Stopping` when they cannot be had.
        ``gone``: whether the client has left (a cancelled request): the work stops, and `Gone` is raised."""
        job = self._admit(list(documents))
        try:
            if not job.admitted.done():  # in the short lane's queue
                try:
                    await _wait(job.admitted, min(self.max_wait, self.timeout), gone)
                except TimeoutError:
                    if self._withdraw(job):  # not started (else it has just started: wait for it)
                        raise Busy(
                            f"the server is busy (short requests waited over {self.max_wait:g} seconds): "
                            "try again in a moment"
                        ) from None
            return await _wait(job.future, max(0.0, job.deadline - time.monotonic()), gone)
        except TimeoutError:
            raise self._timed_out() from None
        finally:
            job.abandoned = True  # (a no-op when the job is done) the worker drops it at its next checkpoint
            self._withdraw(job)  # (a no-op unless it still waits to start)

    def _admit(self, documents: list[Document]) -> Job:
        long = sum(len(d.text) for d in documents) >= self.short_chars
        job = Job(self, documents, time.monotonic() + self.timeout, long)
        with self._cond:
            if self._stopping:
                raise Stopping("the server is shutting down: try again in a moment")
            if not long:
                if len(self._waiting) >= self.max_waiting:
                    raise Busy(f"the server is busy ({self.max_waiting} requests waiting): try again in a moment")
                self._waiting.append(job)
                self._cond.notify_all()
                return job
            if sum(j.long for j in self._admitted) >= self.max_pending:
                raise Busy(f"the server is busy ({self.max_pending} analyses in progress): try again in a moment")
            self._admitted.add(job)
        _settle(job.admitted)
        self._long.put(job)
        return job

    def _withdraw(self, job: Job) -> bool:
        """Take a job that has not started out of the short lane's queue: True if it was still there."""
        with self._cond:
            if job in self._waiting:
                self._waiting.remove(job)
                return True
            return False

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

    def _take_short(self) -> list[Job] | None:
        """The short lane's next batch: the oldest waiting short jobs (blocks until there is one; None: stop)."""
        with self._cond:
            while not self._waiting and not self._stopping:
                self._cond.wait()
            if self._stopping:
                return None
            batch, self._waiting = self._waiting[:SHORT_BATCH], self._waiting[SHORT_BATCH:]
            self._admitted.update(batch)
        for job in batch:
            _settle(job.admitted)
        return batch

    def _work_short(self) -> None:
        while (batch := self._take_short()) is not None:
            started = [job for job in batch if _start(job)]
            if started:
                self._run_short(started)
            with self._cond:
                self._admitted.difference_update(batch)

    def _run_short(self, jobs: list[Job]) -> None:
        assert self._detector is not None, "Lanes.start was not called"
        with self._cond:
            self._short_running += 1
        batch = _Batch(jobs)
        _running.job = batch
        try:
            batch.checkpoint()
            documents = [d for job in jobs for d in job.documents]
            # one encoder batch for them all: 30 sentences in ~1/3 of the time of batches of 8 (measured on 2 cores)
            results = list(self._detector.pipe(documents, batch_size=min(max(len(documents), 1), 2 * SHORT_BATCH)))
        except BaseException as exc:  # handed to the requests, which answer it (no one waits after _Gone)
            for job in jobs:
                _settle(job.future, exc=exc)
        else:
            at = 0
            for job in jobs:
                _settle(job.future, result=results[at : at + len(job.documents)])
                at += len(job.documents)
        finally:
            _running.job = None
            with self._cond:
                self._short_running -= 1
                self._cond.notify_all()

    def _work(self, jobs: queue.SimpleQueue[Job | None]) -> None:
        while (job := jobs.get()) is not None:
            if _start(job):
                self._run(job)
            with self._cond:
                self._admitted.discard(job)

    def _run(self, job: Job) -> None:
        """A long job (the long lane's worker)."""
        assert self._detector is not None, "Lanes.start was not called"
        _running.job = job
        t0 = time.monotonic()
        try:
            job.checkpoint()
            result = list(self._detector.pipe(job.documents))
        except BaseException as exc:  # handed to the request, which answers it (no one waits after _Gone)
            _settle(job.future, exc=exc)
        else:
            _settle(job.future, result=result)
            speed = sum(len(d.text) for d in job.documents) / max(1e-3, time.monotonic() - t0)
            last = self.chars_per_second
            self.chars_per_second = speed if last is None else SPEED_WEIGHT * speed + (1 - SPEED_WEIGHT) * last
        finally:
            _running.job = None


def _start(job: Job) -> bool:
    """Mark a job's future running: False when the request gave up while it waited, or stop() has answered it."""
    try:
        return job.future.set_running_or_notify_cancel()
    except RuntimeError:
        return False


async def _wait(future: concurrent.futures.Future[T], seconds: float, gone: Callable[[], Awaitable[bool]] | None) -> T:
    """The future's result within ``seconds`` (TimeoutError beyond), looking every `DISCONNECT_POLL_S` whether the
    client has gone (`Gone`)."""
    waiting = asyncio.wrap_future(future)
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        step = left if gone is None else min(left, DISCONNECT_POLL_S)
        done, _ = await asyncio.wait([waiting], timeout=max(0.0, step))
        if done:
            return waiting.result()
        if left <= step:
            waiting.cancel()
            raise TimeoutError
        if gone is not None and await gone():
            waiting.cancel()
            raise Gone


def _settle(future: concurrent.futures.Future[T], result: T | None = None, exc: BaseException | None = None) -> None:
    """Give the future its result (``[]`` for none) or exception, unless it has one already (stop() and the worker
    may race)."""
    try:
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result if result is not None else [])  # type: ignore[arg-type]
    except concurrent.futures.InvalidStateError:
        pass
