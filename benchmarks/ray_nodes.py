"""Throughput on 1 vs 2 Ray worker nodes: `python benchmarks/ray_nodes.py [N]` (default 600 articles of ~140
words; needs `pip install -e '.[ray]'`).

Starts on 127.0.0.1 the usual cluster layout, a head node with 0 CPUs (coordination only) and one worker node of
one CPU; runs `spinlens batch --ray` (`run_batch`, executor "ray", this process as the driver) on N synthetic
articles into a fresh SQLite database; adds a second one-CPU worker node and runs the same articles into another
fresh database. Peer: the same articles in one process (`--workers 0`, torch on every core). Every node is
supervised (`spinlens.scale.ray_cluster.RayNode`): nothing is left running when the benchmark ends or dies.

articles/s is over the analysis phase, connecting to the cluster and loading the model on each actor included
(~10-20 s); "steady" leaves out the time to the first result. The machine's load average is printed: on a shared
machine the numbers move with it.
"""

from __future__ import annotations

import os
import platform
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.table import Table

from spinlens.scale import run_batch
from spinlens.scale.executors import ExecutorConfig
from spinlens.scale.ray_cluster import RayNode, head_node
from spinlens.scale.synthetic import write_jsonl
from spinlens.store import Store

sys.path.insert(0, str(Path(__file__).parent))
from speed import cpu_name  # noqa: E402


def first_result_timer(items: Iterator, started: list[float]) -> Iterator:  # type: ignore[type-arg]
    for item in items:
        if not started:
            started.append(time.monotonic())
        yield item


def run(corpus: Path, folder: Path, label: str, executor: str, config: ExecutorConfig) -> dict:
    db = f"sqlite:///{folder / (label.replace(' ', '-') + '.db')}"
    from spinlens.scale import executors

    first: list[float] = []
    inner = executors.EXECUTORS[executor]
    executors.EXECUTORS[executor] = lambda items, cfg: first_result_timer(inner(items, cfg), first)
    try:
        started = time.monotonic()
        summary = run_batch([corpus], Store(db), executor=executor, config=config)
        ended = time.monotonic()
    finally:
        executors.EXECUTORS[executor] = inner
    analyse_started = started + summary.register_seconds
    steady = (summary.analysed - 1) / (ended - first[0]) if first and ended > first[0] else 0.0
    return {
        "label": label,
        "analysed": summary.analysed,
        "rate": summary.rate,
        "steady": steady,
        "first": first[0] - analyse_started if first else float("nan"),
        "total": summary.seconds,
    }


def main(n: int = 600) -> None:
    console = Console(width=120)
    token = secrets.token_hex(32)
    os.environ |= {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token, "RAY_USAGE_STATS_ENABLED": "0"}
    load_before = os.getloadavg()
    rows = []
    nodes: list[RayNode] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        corpus = write_jsonl(folder / "corpus.jsonl", n, seed=11, sentences=8)
        words = sum(len(line.split()) for line in corpus.read_text(encoding="utf-8").splitlines()) // n
        try:
            head, address = head_node(0, dict(os.environ))
            nodes.append(head)
            for count in (1, 2):
                nodes.append(RayNode(["--address", address, "--num-cpus=1"], dict(os.environ)))
                config = ExecutorConfig(ray_address=address)
                rows.append(run(corpus, folder, f"Ray, {count} worker node{'s' * (count > 1)} x 1 CPU", "ray", config))
        finally:
            for node in reversed(nodes):
                node.stop()
        rows.append(run(corpus, folder, "one process (peer)", "local", ExecutorConfig()))
    load_after = os.getloadavg()

    table = Table(
        title=f"spinlens batch --ray on {n:,} synthetic articles (~{words} words), head with 0 CPUs on 127.0.0.1\n"
        f"{cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after"
    )
    for col in ("setup", "analysed", "articles/s", "steady articles/s", "first result s", "total s"):
        table.add_column(col, justify="left" if col == "setup" else "right")
    for r in rows:
        table.add_row(
            r["label"],
            f"{r['analysed']:,}",
            f"{r['rate']:.1f}",
            f"{r['steady']:.1f}",
            f"{r['first']:.1f}",
            f"{r['total']:.1f}",
        )
    console.print(table)
    one, two = rows[0]["steady"], rows[1]["steady"]
    console.print(
        f"2 worker nodes / 1: x{two / one:.2f} steady. On {os.cpu_count()} cores both worker nodes, the head and the "
        "driver share the same cores: this shows the cluster path scaling across nodes, not what a second machine "
        "adds (docs/cluster.md)."
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 600)
