"""The supervisor of a Ray node that spinlens starts (the local cluster of a run, test and benchmark nodes):
``python -I ray_supervisor.py FOLDER RAY START --block ...`` (standard library only: it starts fast, stays small).

It runs the `ray start --block` command given and prints ``ready`` once the node is up; then it reads its stdin,
a pipe whose other end only the run holds. When that pipe closes (the run ended, or was killed, SIGKILL included)
or on SIGTERM, it stops the node and kills whatever is left of it: it is a child subreaper (Linux), so every
process Ray starts, however it detaches (raylet, gcs_server, DashboardAgent, RuntimeEnvAgent, workers), is
below it. Then it removes FOLDER (the node's log, and its Ray temporary folder where it was given one).
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

START_SECONDS = 180.0  # a node that has not started by then has failed (on 2 busy cores it takes ~10-20 s)
STOP_SECONDS = 3.0  # `ray start --block` gets this long to stop its node before everything left is killed


def _children_of(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    children.append(int(entry.name))
    return children


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for child in _children_of(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def kill_all_below(pid: int) -> None:
    """SIGKILL every descendant of ``pid`` and reap them, until none is left (bounded)."""
    for _ in range(100):
        left = _descendants(pid)
        if not left:
            return
        for child in left:
            with contextlib.suppress(OSError):
                os.kill(child, signal.SIGKILL)
        time.sleep(0.05)
        _reap()


def _become_subreaper() -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_child_subreaper = 36
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_child_subreaper, 1, 0, 0, 0)


def _last_line(log: Path) -> str:
    lines = [x for x in log.read_text(encoding="utf-8", errors="replace").splitlines() if x.strip()]
    return lines[-1].strip() if lines else "ray start ended"


def supervise(folder: str, start: list[str]) -> int:
    """Run a node until stdin closes (or SIGTERM), then stop it and everything it started."""
    _become_subreaper()
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    log = Path(folder) / "ray-start.log"
    with open(log, "w", encoding="utf-8") as out:
        node = subprocess.Popen(start, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_SECONDS
        while "Ray runtime started" not in log.read_text(encoding="utf-8", errors="replace"):
            if node.poll() is not None or time.monotonic() > deadline or stopping:
                print(f"failed: {_last_line(log)}", flush=True)
                return 1
            time.sleep(0.2)
        print("ready", flush=True)
        while not stopping and node.poll() is None:
            ready, _, _ = select.select([0], [], [], 1.0)
            if ready and not os.read(0, 4096):  # EOF: the run ended or died
                break
        return 0
    finally:
        if node.poll() is None:
            node.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                node.wait(STOP_SECONDS)
        kill_all_below(os.getpid())
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(supervise(sys.argv[1], sys.argv[2:]))
