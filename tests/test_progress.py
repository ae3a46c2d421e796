"""Long work shows progress with rate and ETA, also in a log file or a background job (stderr not a terminal)."""

from __future__ import annotations

import time

import pytest

from spinlens import progress as prog


def _slow(n: int):
    for i in range(n):
        time.sleep(0.01)
        yield i


def test_off_a_terminal_long_work_writes_plain_lines_with_rate_and_eta(monkeypatch, capsys):
    monkeypatch.delenv("SPINLENS_PROGRESS", raising=False)
    monkeypatch.setattr(prog, "PLAIN_EVERY_S", 0.02)
    assert list(prog.progress(_slow(10), "epoch 1/8", total=10)) == list(range(10))
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) >= 2, lines
    assert all(line.startswith("epoch 1/8: ") and "/s, elapsed " in line for line in lines)
    assert "ETA " in lines[0] and lines[-1].startswith("epoch 1/8: 10/10 (100%)"), lines


def test_short_work_prints_nothing_and_progress_0_silences_long_work(monkeypatch, capsys):
    monkeypatch.delenv("SPINLENS_PROGRESS", raising=False)
    assert list(prog.progress(range(5), "quick")) == list(range(5))  # far below PLAIN_EVERY_S
    monkeypatch.setenv("SPINLENS_PROGRESS", "0")
    monkeypatch.setattr(prog, "PLAIN_EVERY_S", 0.0)
    assert list(prog.progress(_slow(3), "silenced", total=3)) == [0, 1, 2]
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("done", "total", "elapsed", "expected"),
    [
        (120, 960, 92.0, "train: 120/960 (12%), 1.30/s, elapsed 1:32, ETA 10:44"),
        (7, None, 3.5, "train: 7, 2.00/s, elapsed 0:03"),
        (5, 5, 4000.0, "train: 5/5 (100%), 0.00/s, elapsed 1:06:40"),
    ],
)
def test_plain_line(done, total, elapsed, expected):
    assert prog.plain_line("train", done, total, elapsed) == expected
