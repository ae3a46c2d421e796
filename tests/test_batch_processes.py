"""`spinlens batch` as a process: no worker outlives a killed run, SIGTERM stops a run like Ctrl-C, and two runs
started at once on one database analyse every document once, without a traceback; on a process pool and on a
Ray cluster that the run starts itself."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from spinlens.scale.synthetic import write_folder
from spinlens.store.schema import AnalysisRow, DocumentRow, RunRow

from .conftest import analyses_in

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="finds processes through /proc")

ENV = {**os.environ, "SPINLENS_PROGRESS": "0"}
STOPPED = "the results done so far are committed; run the same command again to go on"


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state, ppid, ...), or None when the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"  # a zombie has ended


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _analysed(url: str) -> int:
    engine = create_engine(url)
    try:
        return analyses_in(engine)
    finally:
        engine.dispose()


@contextlib.contextmanager
def _batch(corpus: Path, url: str, *args: str, env: dict[str, str] = ENV) -> Iterator[subprocess.Popen]:
    """`spinlens batch` in its own session; whatever is left of it is killed at the end."""
    command = [sys.executable, "-m", "spinlens.cli", "batch", str(corpus), "--db", url, *args]
    proc = subprocess.Popen(command, env=env, start_new_session=True, stderr=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the workers too: they are in its process group
        proc.communicate()


def _wait_for_workers(proc: subprocess.Popen, url: str, workers: int) -> set[int]:
    """Wait until the run has committed a result and runs ``workers`` workers; its child processes."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        children = _descendants(proc.pid)
        if sum("spawn_main" in _cmdline(p) for p in children) >= workers and _analysed(url) > 0:
            return children
        time.sleep(0.2)
    stderr = proc.stderr.read() if proc.poll() is not None and proc.stderr else ""
    pytest.fail(f"the run ended or took too long before its workers were busy (exit code {proc.poll()}): {stderr}")


def _wait_gone(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while (left := {p for p in pids if _alive(p)}) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def test_no_worker_outlives_a_killed_run(tmp_path: Path) -> None:
    corpus = write_folder(tmp_path / "corpus", 80, sentences=3)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with _batch(corpus, url, "--workers", "2", "--commit-every", "1") as proc:
        children = _wait_for_workers(proc, url, 2)
        assert any("resource_tracker" in _cmdline(p) for p in children)
        os.kill(proc.pid, signal.SIGKILL)  # the runner only, as the OOM killer would
        proc.wait()
        left = _wait_gone(children, 10)
        assert not left, f"alive 10 s after their parent was killed: {[_cmdline(p)[:100] for p in left]}"


def test_sigterm_stops_a_run_like_ctrl_c(tmp_path: Path) -> None:
    corpus = write_folder(tmp_path / "corpus", 80, sentences=3)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with _batch(corpus, url, "--workers", "2", "--commit-every", "1") as proc:
        children = _wait_for_workers(proc, url, 2)
        at_signal = _analysed(url)
        os.kill(proc.pid, signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 143, stderr
        assert "Traceback" not in stderr and "leaked" not in stderr, stderr
        assert "stopped (SIGTERM)" in stderr and "run the same command again" in stderr
        assert not _wait_gone(children, 10)  # workers and resource tracker
    assert _analysed(url) >= at_signal
    engine = create_engine(url)
    with engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(RunRow)) == 0  # the database is free for the next run
    engine.dispose()


def test_two_runs_at_once_analyse_each_document_once(tmp_path: Path, db_url: str) -> None:
    n = 12
    corpus = write_folder(tmp_path / "corpus", n, sentences=3)
    with _batch(corpus, db_url, "--workers", "0") as one, _batch(corpus, db_url, "--workers", "0") as two:
        runs = [(one, one.communicate(timeout=600)[1]), (two, two.communicate(timeout=600)[1])]
    for proc, stderr in runs:
        assert "Traceback" not in stderr, stderr
        if proc.returncode != 0:  # refused, in one line that names the run holding the database
            assert proc.returncode == 2, stderr
            assert stderr.startswith("error: another spinlens batch is running on this database (pid "), stderr
            assert stderr.count("\n") == 1, stderr
            command = [sys.executable, "-m", "spinlens.cli", "batch", str(corpus), "--db", db_url, "--workers", "0"]
            again = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=600)
            assert again.returncode == 0 and "Traceback" not in again.stderr, again.stderr
    engine = create_engine(db_url)
    with engine.connect() as c:
        per_doc = c.execute(select(AnalysisRow.document_id, func.count()).group_by(AnalysisRow.document_id)).all()
        documents = c.scalar(select(func.count()).select_from(DocumentRow))
    engine.dispose()
    assert documents == n
    assert len(per_doc) == n and {count for _, count in per_doc} == {1}


def test_a_second_run_is_refused_while_one_is_running(tmp_path: Path, db_url: str) -> None:
    # long enough articles that the first run is still analysing (about 10 s on 2 quiet cores) when the second,
    # a fresh process that imports spinlens, asks for the database (3 short sentences each ended first on CI)
    n = 30
    corpus = write_folder(tmp_path / "corpus", n, sentences=80)
    command = [sys.executable, "-m", "spinlens.cli", "batch", str(corpus), "--db", db_url, "--workers", "0"]
    with _batch(corpus, db_url, "--workers", "0", "--commit-every", "1") as first:
        deadline = time.monotonic() + 300
        while _analysed(db_url) == 0 and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        second = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=600)
        running = first.poll() is None
        _, stderr = first.communicate(timeout=600)
        assert first.returncode == 0 and "Traceback" not in stderr, stderr
    assert running, "the first run ended before the second started: make the corpus larger"
    assert second.returncode == 2, second.stderr
    assert second.stderr.startswith(f"error: another spinlens batch is running on this database (pid {first.pid} on ")
    again = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert "skipped: already in the database" in again.stderr and "Traceback" not in again.stderr
    engine = create_engine(db_url)
    with engine.connect() as c:
        per_doc = c.execute(select(AnalysisRow.document_id, func.count()).group_by(AnalysisRow.document_id)).all()
    engine.dispose()
    assert len(per_doc) == n and {count for _, count in per_doc} == {1}


def _wait_for_results(proc: subprocess.Popen, url: str, more_than: int = 0) -> None:
    deadline = time.monotonic() + 300
    while _analysed(url) <= more_than:
        if proc.poll() is not None or time.monotonic() > deadline:
            stderr = proc.stderr.read() if proc.poll() is not None and proc.stderr else ""
            pytest.fail(f"the run ended or took too long before a result (exit code {proc.poll()}): {stderr}")
        time.sleep(0.2)


def _ray_processes(pid: int) -> set[int]:
    """The run's descendants, its local Ray cluster included (raylet, gcs_server, agents, actors)."""
    found = _descendants(pid)
    names = " ".join(_cmdline(p) for p in found)
    assert "raylet" in names and "gcs_server" in names and "ray::" in names, names[:2000]
    return found


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is not installed: pip install 'spinlens[ray]'")
def test_ray_runs_stop_cleanly_on_sigterm_and_leave_nothing_on_sigkill(tmp_path: Path) -> None:
    """A run that starts its own Ray cluster: SIGTERM commits and exits 143 with the one promised line (not Ray's
    signal dump); SIGKILL of the run leaves no Ray process behind (its supervisor stops the cluster); neither
    writes a token to ~/.ray (the run's own cluster gets a token of its own)."""
    corpus = write_folder(tmp_path / "corpus", 400, sentences=3)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in ENV.items() if not k.startswith("RAY_")} | {"HOME": str(home)}
    args = ("--ray", "--workers", "1", "--commit-every", "1")

    with _batch(corpus, url, *args, env=env) as proc:
        _wait_for_results(proc, url)
        cluster = _ray_processes(proc.pid)
        at_signal = _analysed(url)
        os.kill(proc.pid, signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 143, stderr
        assert stderr == f"stopped (SIGTERM): {STOPPED}\n"
        assert not _wait_gone(cluster, 30), "Ray processes outlived a stopped run"
    assert _analysed(url) >= at_signal

    before = _analysed(url)
    with _batch(corpus, url, *args, env=env) as proc:
        _wait_for_results(proc, url, more_than=before)
        cluster = _ray_processes(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)  # the runner only, as the OOM killer would
        proc.wait()
        left = _wait_gone(cluster, 30)
        assert not left, f"alive 30 s after the run was killed: {[_cmdline(p)[:100] for p in left]}"
        for log in Path(tempfile.gettempdir()).glob(f"spinlens-ray-{proc.pid}-*.log"):
            log.unlink()  # a killed run cannot remove its log of Ray's output
    assert not (home / ".ray").exists()


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is not installed: pip install 'spinlens[ray]'")
def test_a_ray_run_whose_raylet_dies_stops_with_one_line(tmp_path: Path) -> None:
    """The raylet of the run's Ray node (the head's, here) killed: exit 75 and one line, not Ray's crash dump, what
    came back committed, and no Ray process left."""
    corpus = write_folder(tmp_path / "corpus", 400, sentences=3)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with _batch(corpus, url, "--ray", "--workers", "1", "--commit-every", "1") as proc:
        _wait_for_results(proc, url)
        cluster = _ray_processes(proc.pid)
        raylet = next(p for p in cluster if "raylet/raylet" in _cmdline(p))
        os.kill(raylet, signal.SIGKILL)
        _, stderr = proc.communicate(timeout=180)
        assert proc.returncode == 75, stderr
        assert stderr.startswith("error: the Ray node this run is on stopped (its raylet at "), stderr
        assert stderr.count("\n") == 1 and stderr.endswith(f"; {STOPPED}\n"), stderr
        assert not _wait_gone(cluster, 30), "Ray processes outlived the run"
    assert 0 < _analysed(url) < 400
    log = Path(stderr.split("(Ray's log: ", 1)[1].split(")", 1)[0])
    assert log.stat().st_size > 0  # Ray's crash output went there, not to the user
    log.unlink()
