"""Corpus runs end to end with the shipped model: counts, duplicates, pool = in-process, and a real SIGKILL; the run
lock, interrupts and the rate (cheap, with a stand-in executor)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.orm import Session

from spinlens.detect.pipeline import model_identity
from spinlens.document import Analysis
from spinlens.errors import SpinlensError
from spinlens.scale import EXECUTORS, run_batch
from spinlens.scale.executors import ExecutorConfig
from spinlens.scale.synthetic import generate, write_folder
from spinlens.sources import Options
from spinlens.store import Store
from spinlens.store.runlock import RUN_LOCK_STALE
from spinlens.store.schema import AnalysisRow, RunRow, SpanRow

from .conftest import analyses_in


def _spans_by_ref(url: str) -> dict[str, list[tuple[int, int, str, float]]]:
    engine = create_engine(url)
    q = text(
        'SELECT d.ref, s.start, s."end", s.technique, s.score FROM spans s JOIN analyses a ON s.analysis_id = a.id '
        'JOIN documents d ON a.document_id = d.id ORDER BY d.ref, s.start, s."end", s.technique'
    )
    out: dict[str, list] = {}
    with engine.connect() as c:
        for ref, start, end, technique, score in c.execute(q):
            out.setdefault(Path(ref).name, []).append((start, end, technique, round(score, 3)))
    engine.dispose()
    return out


def test_batch_counts_duplicates_failures_and_rerun(tmp_path: Path, db_url: str) -> None:
    corpus = write_folder(tmp_path / "corpus", 12, sentences=3)
    docs = list(generate(2, seed=5, sentences=3))
    (tmp_path / "corpus" / "copy.txt").write_text(docs[0].text.upper(), encoding="utf-8")  # a duplicate of ...
    (tmp_path / "corpus" / "orig.txt").write_text(docs[0].text, encoding="utf-8")  # ... this one
    (tmp_path / "corpus" / "empty.txt").write_text("", encoding="utf-8")
    store = Store(db_url)

    summary = run_batch([corpus], store, Options(outlet_from_folder=True), "local")
    reg = summary.registered
    assert (reg.new, reg.duplicates, reg.failed, summary.analysed, summary.failed) == (13, 1, 1, 13, 0)
    assert summary.failures == [(str(corpus / "empty.txt"), "file is empty")]
    counts = store.counts()
    assert counts["documents"] == 14 and counts["analyses"] == 13 and counts["spans"] > 0

    again = run_batch([corpus], store, Options(outlet_from_folder=True), "local")
    assert (again.registered.known, again.registered.new, again.analysed) == (15, 0, 0)
    assert store.counts() == counts


def test_pool_gives_the_results_of_one_process(tmp_path: Path) -> None:
    corpus = write_folder(tmp_path / "corpus", 10, sentences=4)
    local, pool = f"sqlite:///{tmp_path / 'local.db'}", f"sqlite:///{tmp_path / 'pool.db'}"
    run_batch([corpus], Store(local), executor="local")
    summary = run_batch([corpus], Store(pool), executor="pool", config=ExecutorConfig(workers=2, chunk_size=3))
    assert summary.analysed == 10
    assert _spans_by_ref(pool) == _spans_by_ref(local)


def test_sigkill_mid_run_then_restart_analyses_each_document_once(tmp_path: Path, db_url: str) -> None:
    n = 60
    corpus = write_folder(tmp_path / "corpus", n, sentences=4)
    command = [sys.executable, "-m", "spinlens.cli", "batch", str(corpus), "--db", db_url, "--commit-every", "4"]
    env = {**os.environ, "SPINLENS_PROGRESS": "0"}
    engine = create_engine(db_url)

    def analysed() -> int:
        return analyses_in(engine)

    proc = subprocess.Popen([*command, "--workers", "2"], env=env, start_new_session=True)
    deadline = time.monotonic() + 240
    while analysed() < 8 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the runner and its workers, mid-run
    proc.wait()
    at_kill = analysed()
    assert 0 < at_kill < n, f"the kill came too late or too early ({at_kill} of {n} analysed)"

    rerun = subprocess.run([*command, "--workers", "1"], env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert "skipped: already in the database" in rerun.stderr
    with engine.connect() as c:
        per_doc = c.execute(select(AnalysisRow.document_id, func.count()).group_by(AnalysisRow.document_id)).all()
        orphans = c.scalar(
            select(func.count()).select_from(SpanRow).where(~SpanRow.analysis_id.in_(select(AnalysisRow.id)))
        )
    engine.dispose()
    assert len(per_doc) == n and all(count == 1 for _, count in per_doc)  # every document, exactly once
    assert orphans == 0  # no spans of a transaction that the kill cut short

    clean = f"sqlite:///{tmp_path / 'clean.db'}"
    run_batch([corpus], Store(clean), executor="local")
    assert _spans_by_ref(db_url) == _spans_by_ref(clean)  # and nothing lost or changed on the way


def _fake_executor(stop_after: int | None = None):  # type: ignore[no-untyped-def]
    """An executor that 'analyses' instantly (no spans), and raises KeyboardInterrupt after ``stop_after``."""

    def run(items, config):  # type: ignore[no-untyped-def]
        name, version = model_identity(config.model)
        for n, (doc_id, doc) in enumerate(items):
            if n == stop_after:
                raise KeyboardInterrupt
            yield doc_id, Analysis(document=doc, model=name, model_version=version)

    return run


def test_an_interrupt_commits_the_results_that_came_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = write_folder(tmp_path / "corpus", 10, sentences=2)
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.setitem(EXECUTORS, "stops", _fake_executor(stop_after=4))
    monkeypatch.setitem(EXECUTORS, "fake", _fake_executor())
    with pytest.raises(KeyboardInterrupt):
        run_batch([corpus], store, executor="stops", commit_every=100)  # nothing committed before the interrupt
    assert store.counts()["analyses"] == 4  # ... and the 4 results that had come back are kept

    rest = run_batch([corpus], store, executor="fake")  # the lock was released: the run resumes
    assert rest.analysed == 6
    with Session(store.engine) as s:
        per_doc = s.execute(select(AnalysisRow.document_id, func.count()).group_by(AnalysisRow.document_id)).all()
    assert len(per_doc) == 10 and {count for _, count in per_doc} == {1}


def test_rate_counts_analysis_time_not_registration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = write_folder(tmp_path / "corpus", 6, sentences=2)
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    register = store.register

    def slow_register(items):  # type: ignore[no-untyped-def]
        time.sleep(2)  # a corpus of 100k rows takes long to register
        return register(items)

    monkeypatch.setattr(store, "register", slow_register)
    monkeypatch.setitem(EXECUTORS, "fake", _fake_executor())
    summary = run_batch([corpus], store, executor="fake")
    assert summary.analysed == 6 and summary.register_seconds >= 2
    assert summary.analyse_seconds < 1 and summary.rate > 6  # not 6 documents / 2 s


def test_one_batch_run_per_database(tmp_path: Path, db_url: str) -> None:
    first, second = Store(db_url), Store(db_url)
    first.lock_run()
    with pytest.raises(SpinlensError, match=rf"another spinlens batch is running .*pid {os.getpid()} on "):
        second.lock_run()
    first.unlock_run()
    second.lock_run()  # free again
    second.unlock_run()

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    now = dt.datetime.now(dt.UTC)
    with Session(first.engine) as s, s.begin():  # the lock of a run that was killed on this host
        s.add(RunRow(id=1, token="x" * 32, pid=dead.pid, host=socket.gethostname(), started=now, heartbeat=now))
    second.lock_run()  # is taken over
    with pytest.raises(SpinlensError, match="another spinlens batch"):
        first.lock_run()
    with Session(first.engine) as s, s.begin():  # a run elsewhere that stopped committing long ago is dead too
        s.execute(update(RunRow).values(host="elsewhere", heartbeat=now - RUN_LOCK_STALE * 2))
    first.lock_run()
    with pytest.raises(SpinlensError, match="took this database over"):
        second.beat_run()  # the run that lost its lock stops at its next commit
    first.unlock_run()
    for store in (first, second):
        store.engine.dispose()


def test_a_run_that_finds_no_input_says_so_and_fails(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from spinlens.cli import app

    (tmp_path / "empty").mkdir()
    res = CliRunner().invoke(
        app, ["batch", str(tmp_path / "empty"), "--db", f"sqlite:///{tmp_path}/e.db", "--workers", "0"]
    )
    assert res.exit_code != 0 and "no document found" in res.output and "Traceback" not in res.output


def test_batch_takes_the_one_character_limit(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from spinlens.cli import app

    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "long.txt").write_text("The minister spoke at length about the budget today. " * 40)
    db = f"sqlite:///{tmp_path}/l.db"
    res = CliRunner().invoke(app, ["batch", str(tmp_path / "c"), "--db", db, "--workers", "0", "--max-chars", "500"])
    assert "over the limit of 500" in res.output, res.output
