"""One batch run at a time per database: a lock row with a heartbeat, taken over from a run that died."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
from pathlib import Path

from sqlalchemy import delete, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from spinlens.errors import SpinlensError
from spinlens.store.schema import RunRow, _utc

RUN_LOCK_STALE = dt.timedelta(minutes=5)  # a run whose heartbeat is this old is taken to be dead


class RunLock:
    """`Store`'s batch-run lock; needs ``self.engine``."""

    engine: object
    _run_token: str | None = None

    def lock_run(self) -> None:
        """Take this database for one batch run, or raise SpinlensError naming the run that has it.

        The lock is a row with a fixed key, so taking it is one INSERT that the database makes atomic. A lock left
        by a run that died (its pid is gone on this host, or its heartbeat is older than `RUN_LOCK_STALE`) is taken
        over. The holder renews the heartbeat with `beat_run` and ends with `unlock_run`.
        """
        token = secrets.token_hex(16)
        for _ in range(5):
            now = dt.datetime.now(dt.UTC)
            row = {"id": 1, "token": token, "pid": os.getpid(), "host": socket.gethostname()}
            try:
                with self.engine.begin() as c:
                    c.execute(insert(RunRow).values(**row, started=now, heartbeat=now))
            except IntegrityError:
                with Session(self.engine) as s:
                    holder = s.get(RunRow, 1)
                if holder is None:  # ended meanwhile
                    continue
                if not _run_is_dead(holder):
                    started = _utc(holder.started).strftime("%Y-%m-%d %H:%M:%S UTC")
                    raise SpinlensError(
                        f"another spinlens batch is running on this database (pid {holder.pid} on {holder.host}, "
                        f"started {started}); run this command again when it has finished"
                    ) from None
                with self.engine.begin() as c:  # only that dead run's lock: of two runs taking over, one wins
                    c.execute(delete(RunRow).where(RunRow.id == 1, RunRow.token == holder.token))
                continue
            self._run_token = token
            return
        raise SpinlensError("could not take this database for a batch run: other runs keep taking it; try again")

    def beat_run(self) -> None:
        """Tell other runs that this one is alive; raise SpinlensError if another run has taken the lock over."""
        if self._run_token is None:
            return
        with self.engine.begin() as c:
            now = dt.datetime.now(dt.UTC)
            taken = c.execute(update(RunRow).where(RunRow.token == self._run_token).values(heartbeat=now)).rowcount
        if not taken:
            raise SpinlensError("another spinlens batch took this database over (this run looked dead); stopping")

    def unlock_run(self) -> None:
        if self._run_token is not None:
            with self.engine.begin() as c:
                c.execute(delete(RunRow).where(RunRow.token == self._run_token))
            self._run_token = None


def _run_is_dead(run: RunRow) -> bool:
    if dt.datetime.now(dt.UTC) - _utc(run.heartbeat) > RUN_LOCK_STALE:
        return True
    return run.host == socket.gethostname() and not _pid_alive(run.pid)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    try:  # a zombie has ended: only its parent has not collected it yet
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
