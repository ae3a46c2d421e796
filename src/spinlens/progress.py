"""Progress of long work on stderr, with count, rate and ETA: a bar (rich) on a terminal; elsewhere (a log file, a
background job) one plain line every `PLAIN_EVERY_S` seconds, so that short work prints nothing. `SPINLENS_PROGRESS=0`
silences both, `=1` forces the bar."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

T = TypeVar("T")


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:.1f}/s" if task.speed else "-/s")


def progress(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    wanted = os.environ.get("SPINLENS_PROGRESS")
    if wanted == "0":
        yield from items
        return
    if wanted != "1" and not sys.stderr.isatty():
        yield from _plain(items, description, total if total is not None else _len(items))
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    # on stderr: stdout may carry the results (`spinlens analyze ... > out.json`)
    with Progress(*columns, transient=False, console=Console(stderr=True)) as bar:
        task = bar.add_task(description, total=total if total is not None else _len(items))
        for item in items:
            yield item
            bar.advance(task)


def _len(items: Iterable) -> int | None:
    try:
        return len(items)  # type: ignore[arg-type]
    except TypeError:
        return None


PLAIN_EVERY_S = 30.0  # off a terminal: a line at most this often, none for work shorter than this


def _plain(items: Iterable[T], description: str, total: int | None) -> Iterator[T]:
    """Lines like `epoch 1/8: 120/960 (12%), 1.3/s, elapsed 1:32, ETA 10:45`, and one at the end if any was written."""
    start = last = time.monotonic()
    done = 0
    for item in items:
        yield item
        done += 1
        now = time.monotonic()
        if now - last >= PLAIN_EVERY_S:
            last = now
            print(plain_line(description, done, total, now - start), file=sys.stderr, flush=True)
    if last > start:
        print(plain_line(description, done, total, time.monotonic() - start), file=sys.stderr, flush=True)


def plain_line(description: str, done: int, total: int | None, elapsed: float) -> str:
    rate = done / elapsed if elapsed > 0 else 0.0
    count = f"{done}/{total} ({done / total:.0%})" if total else f"{done}"
    line = f"{description}: {count}, {rate:.2f}/s, elapsed {_clock(elapsed)}"
    if total and rate > 0 and done < total:
        line += f", ETA {_clock((total - done) / rate)}"
    return line


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
