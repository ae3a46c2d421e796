"""Admission that serves a team (`spinlens.web.lanes`): a burst of short requests is answered, not refused; the
short lane's queue is bounded, in length and in waiting time; a client that leaves stops its analysis."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from .test_browser import _serve
from .test_web_security import _app_client, _Gated, _long_text, _n_stored, _one_line_detail, _pending, _wait_until


@pytest.fixture(scope="module")
def nlp():
    import spinlens

    return spinlens.load().warm_up()


def test_30_simultaneous_short_requests_are_all_answered_while_a_long_text_runs(nlp, tmp_path):
    """Was: 8 answered, 22 refused with 503 (at most 8 admitted, the rest refused at once)."""
    with (
        _app_client(f"sqlite:///{tmp_path / 'burst.db'}", nlp, timeout=600) as c,
        ThreadPoolExecutor(31) as pool,
    ):
        long = pool.submit(c.post, "/api/analyze", json={"text": _long_text(30_000, " burst")})
        _wait_until(lambda: _pending(c) == 1)
        shorts = [
            pool.submit(c.post, "/api/analyze", json={"text": f"The corrupt regime lies to us, burst {i}."})
            for i in range(30)
        ]
        answers = [f.result(300) for f in shorts]
        assert [r.status_code for r in answers] == [200] * 30, [r.text[:100] for r in answers if r.status_code != 200]
        assert [r.json()["title"] for r in answers] == [f"The corrupt regime lies to us, burst {i}." for i in range(30)]
        assert all(not r.json()["cached"] for r in answers)
        assert long.result(600).status_code == 200
        # answered together, each gets its own spans: the same as alone
        alone = nlp("The corrupt regime lies to us, burst 7.")  # the same text, analysed on its own
        burst = answers[7].json()
        assert [(s["start"], s["end"], s["technique"]) for s in burst["spans"]] == [
            (s.start, s.end, s.technique) for s in alone.spans
        ]


def test_the_short_queue_is_bounded_in_length_and_in_waiting_time(nlp, tmp_path):
    gated = _Gated(nlp)
    with (
        _app_client(f"sqlite:///{tmp_path / 'q.db'}", gated, max_waiting=2, max_wait=1.5) as c,
        ThreadPoolExecutor(3) as pool,
    ):
        threading.Timer(30, gated.gate.set).start()  # whatever happens, the held analysis ends
        first = pool.submit(c.post, "/api/analyze", json={"text": "The regime lies, first."})
        assert gated.entered.wait(30)  # the short lane's worker holds it
        waiting = [pool.submit(c.post, "/api/analyze", json={"text": f"The regime lies, waiting {i}."}) for i in (1, 2)]
        _wait_until(lambda: _pending(c) == 3)
        r = c.post("/api/analyze", json={"text": "The regime lies, one too many."})
        assert r.status_code == 503 and r.headers["retry-after"].isdigit()
        assert "2 requests waiting" in _one_line_detail(r)
        for f in waiting:  # not started within max_wait: refused, with Retry-After, and never analysed
            r = f.result(30)
            assert r.status_code == 503 and "waited over 1.5 seconds" in _one_line_detail(r)
            assert r.headers["retry-after"].isdigit()
        gated.gate.set()
        assert first.result(30).status_code == 200
        _wait_until(lambda: _pending(c) == 0)
        assert _n_stored(c) == 1


def test_a_client_that_leaves_stops_its_analysis(tmp_path):
    """The page's Cancel aborts its request: the server sees the client gone and stops the model within a second or
    two, stores nothing, and the long lane is free again."""
    import torch

    passes: list[float] = []
    hook = torch.nn.modules.module.register_module_forward_pre_hook(lambda m, i: passes.append(time.monotonic()))
    srv, thread, url = _serve(tmp_path / "leave.db")
    try:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(url + "/api/analyze", json={"text": _long_text(150_000, " leaving")}, timeout=4)
        left = time.monotonic()
        _wait_until(lambda: httpx.get(url + "/healthz").json()["analyses_pending"] == 0, 20)
        time.sleep(1.5)
        assert passes and max(passes) < time.monotonic() - 1, "the model still runs for a client that left"
        assert httpx.get(url + "/api/analyses").json() == []
        r = httpx.post(url + "/api/analyze", json={"text": _long_text(6_000, " after")}, timeout=120)
        assert r.status_code == 200 and max(passes) > left
    finally:
        hook.remove()
        srv.should_exit = True
        thread.join(10)
