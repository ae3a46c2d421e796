"""Latency of short texts on `spinlens serve`, alone and with a long text in flight: `python benchmarks/web_latency.py`.

Starts `spinlens serve` (a fresh SQLite database each time) and sends short texts (a sentence each, all different)
at a steady rate, from many clients at once, for each scenario:

- idle: nothing else in flight;
- 1 MB in flight, one lane (before issue 11): ``--short-chars 0``, every request in one queue, as the server was;
- 1 MB in flight, two lanes (now): the default, short texts in a lane of their own.

Prints one table: the machine, p50/p95/max latency of the short texts and the server's peak memory in each
scenario, next to the target of issue 11. A short request still waiting after ``--give-up`` seconds counts as that.

``--scenarios burst`` (issue 20: a team at once): while one 200,000-character text is in flight, 30 short texts are
sent at the same moment. Prints how many were answered and refused (503), and p50/p95/max, next to the target
(0 refused, p95 under 1 s on 2 cores). The peer is the same burst on the server as it was before (``--peer-src``: a
``src`` folder of an older checkout, e.g. ``git archive 2a8e1b6 src | tar -x -C /tmp/before``).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import cpu_name  # noqa: E402

SHORT = "The corrupt regime lies to its people every single day ({i})."
MB = 1_000_000


def long_text(chars: int = MB) -> str:
    lines, n, i = [], 0, 0
    while n < chars:
        line = f"The corrupt regime lies to its people, day {i}, and its puppets cheer every lie.\n"
        lines.append(line)
        n, i = n + len(line), i + 1
    return "".join(lines)[:chars]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`spinlens serve` in a subprocess, on a free port and a fresh database (``src``: the code of another checkout;
    ``queue``: its --max-queue)."""

    def __init__(self, folder: Path, *options: str, src: Path | None = None, queue: int = 64) -> None:
        self.url = f"http://127.0.0.1:{(port := free_port())}"
        command = [sys.executable, "-m", "spinlens.cli", "serve", "--port", str(port)]
        command += ["--db", f"sqlite:///{folder / f'{port}.db'}", "--max-chars", str(MB), "--max-queue", str(queue)]
        env = {**os.environ, "PYTHONPATH": str(src)} if src else None
        self.process = subprocess.Popen(
            [*command, *options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        raise RuntimeError("the server did not start")

    def peak_gb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024**2
        return float("nan")

    def stop(self) -> float:
        """SIGTERM; returns the seconds until the process ended."""
        t0 = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return time.monotonic() - t0


def post(url: str, text: str, timeout: float, client: httpx.Client | None = None) -> tuple[float, int | str]:
    """Seconds to the answer, and its status (or "gave up"); ``client``: one made beforehand (a new one costs tens of
    milliseconds of the same CPUs, which a browser that has the page open does not spend)."""
    t0 = time.monotonic()
    try:
        r = (client or httpx).post(url + "/api/analyze", json={"text": text}, timeout=timeout)
        return time.monotonic() - t0, r.status_code
    except httpx.TimeoutException:
        return time.monotonic() - t0, "gave up"


def scenario(folder: Path, name: str, options: list[str], with_long: bool, shorts: int, gap: float, give_up: float):
    server = Server(folder, *options)
    try:
        post(server.url, "Warm-up text, not counted.", 60)
        long_result: dict[str, object] = {}
        if with_long:
            text = long_text()

            def send_long() -> None:
                long_result["answer"] = post(server.url, text, 3600)

            threading.Thread(target=send_long, daemon=True).start()
            while httpx.get(server.url + "/healthz").json()["analyses_pending"] == 0:
                time.sleep(0.1)
            time.sleep(1.0)  # under way
        with ThreadPoolExecutor(shorts) as pool:
            futures = []
            for i in range(shorts):
                futures.append(pool.submit(post, server.url, SHORT.format(i=f"{name} {i}"), give_up))
                time.sleep(gap)
            results = [f.result() for f in futures]
        still_running = with_long and "answer" not in long_result
        peak = server.peak_gb()
    finally:
        exit_s = server.stop()
    seconds = [s for s, _ in results]
    statuses = sorted({str(c) for _, c in results})
    return {
        "name": name,
        "n": len(results),
        "statuses": ",".join(statuses),
        "p50": statistics.median(seconds),
        "p95": statistics.quantiles(seconds, n=20)[-1] if len(seconds) > 1 else seconds[0],
        "max": max(seconds),
        "peak_gb": peak,
        "long": "still running" if still_running else ("-" if not with_long else str(long_result["answer"][1])),
        "exit_s": exit_s,
    }


BURST_LONG_CHARS = 200_000


def burst(folder: Path, name: str, src: Path | None, shorts: int, give_up: float, with_long: bool = True) -> dict:
    """``shorts`` short texts at the same moment, while one long text is under way (``with_long``), on the default
    settings."""
    server = Server(folder, src=src, queue=8)  # the default --max-queue
    try:
        post(server.url, "Warm-up text, not counted.", 60)
        if with_long:
            threading.Thread(target=post, args=(server.url, long_text(BURST_LONG_CHARS), 3600), daemon=True).start()
            while httpx.get(server.url + "/healthz").json()["analyses_pending"] == 0:
                time.sleep(0.1)
            time.sleep(1.0)  # under way
        start = threading.Barrier(shorts)
        clients = [httpx.Client() for _ in range(shorts)]  # each with its connection open, as a browser's page
        for c in clients:
            c.get(server.url + "/healthz")

        def one(i: int) -> tuple[float, int | str]:
            start.wait()
            return post(server.url, SHORT.format(i=f"{name} burst {i}"), give_up, clients[i])

        with ThreadPoolExecutor(shorts) as pool:
            results = list(pool.map(one, range(shorts)))
        for c in clients:
            c.close()
        long_running = httpx.get(server.url + "/healthz").json()["analyses_pending"] > 0
    finally:
        server.stop()
    seconds = [s for s, c in results if c == 200] or [float("nan")]  # the answered ones (a refusal is quick)
    return {
        "name": name,
        "n": len(results),
        "answered": sum(c == 200 for _, c in results),
        "refused": sum(c == 503 for _, c in results),
        "other": ",".join(sorted({str(c) for _, c in results if c not in (200, 503)})) or "-",
        "p50": statistics.median(seconds),
        "p95": statistics.quantiles(seconds, n=20, method="inclusive")[-1] if len(seconds) > 1 else seconds[0],
        "max": max(seconds),
        "long": "-" if not with_long else "still running" if long_running else "done",
    }


def burst_table(rows: list[dict], caption: str) -> Table:
    table = Table(
        title=f"spinlens serve: {rows[0]['n']} short texts at once, a {BURST_LONG_CHARS:,}-character text in flight"
    )
    for col in ("server", "requests", "answered", "refused (503)", "other", "p50 s", "p95 s", "max s", "long text"):
        # (the seconds are those of the answered requests)
        table.add_column(col, justify="left" if col in ("server", "other", "long text") else "right")
    for r in rows:
        table.add_row(
            r["name"], str(r["n"]), str(r["answered"]), str(r["refused"]), r["other"],
            f"{r['p50']:.2f}", f"{r['p95']:.2f}", f"{r['max']:.2f}", r["long"],
        )  # fmt: skip
    now = rows[0]
    verdict = "met" if now["refused"] == 0 and now["answered"] == now["n"] and now["p95"] < 1.0 else "NOT met"
    table.add_section()
    table.add_row("target (issue 20)", "", "all", "0", "", "", "< 1.00", "", "", end_section=True)
    table.caption = (
        f"{caption} Seconds: of the answered requests, from the burst's start. Target: 0 refused and p95 under "
        f"1 s ({verdict}). Load average when it ended: {os.getloadavg()[0]:.1f} (a shared machine: see the note)."
    )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shorts", type=int, default=20, help="short requests per scenario")
    parser.add_argument("--gap", type=float, default=0.5, help="seconds between two short requests")
    parser.add_argument("--give-up", type=float, default=60, help="a short request's client timeout (seconds)")
    parser.add_argument("--scenarios", choices=["all", "lanes", "burst"], default="all")
    parser.add_argument("--burst", type=int, default=30, help="short requests at once (burst)")
    parser.add_argument("--peer-src", type=Path, help="the src folder of the server before (burst's peer)")
    args = parser.parse_args()
    import torch

    machine = f"machine: {cpu_name()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}."
    if args.scenarios in ("all", "burst"):
        with tempfile.TemporaryDirectory() as tmp:
            rows = [burst(Path(tmp), "now", None, args.burst, args.give_up)]
            rows.append(burst(Path(tmp), "now, no long text (the burst alone)", None, args.burst, args.give_up, False))
            if args.peer_src:
                rows.append(burst(Path(tmp), f"before ({args.peer_src})", args.peer_src, args.burst, args.give_up))
        Console(width=160).print(burst_table(rows, machine))
    if args.scenarios == "burst":
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = [
            scenario(folder, "idle", [], False, args.shorts, args.gap, args.give_up),
            scenario(
                folder,
                "1 MB in flight, one lane (before)",
                ["--short-chars", "0", "--timeout", "3600"],
                True,
                args.shorts,
                args.gap,
                args.give_up,
            ),
            scenario(folder, "1 MB in flight, two lanes (now)", [], True, args.shorts, args.gap, args.give_up),
        ]
    table = Table(title="spinlens serve: latency of short texts (one sentence each)")
    for col in ("scenario", "requests", "answers", "p50 s", "p95 s", "max s", "1 MB request", "peak GB", "exit s"):
        table.add_column(col, justify="left" if col in ("scenario", "answers", "1 MB request") else "right")
    for r in rows:
        table.add_row(
            r["name"],
            str(r["n"]),
            r["statuses"],
            f"{r['p50']:.2f}",
            f"{r['p95']:.2f}",
            f"{r['max']:.2f}",
            r["long"],
            f"{r['peak_gb']:.2f}",
            f"{r['exit_s']:.1f}",
        )
    idle, now = rows[0], rows[2]
    target = 2 * idle["p95"] + 1.0
    verdict = "met" if now["p95"] <= target else "NOT met"
    table.add_section()
    table.add_row("target (issue 11)", "", "", "", f"<= {target:.2f}", "", "", "", "< 5", end_section=True)
    table.caption = (
        f"machine: {cpu_name()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}. "
        f"Target: with a 1 MB text in flight, short texts' p95 within 2 x idle p95 + 1 s ({verdict}); "
        f"peer: the same server with one lane (before). Exit: seconds from SIGTERM to the process's end."
    )
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
