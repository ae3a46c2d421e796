"""`spinlens batch --ray` on a real two-node Ray cluster on loopback, laid out as clusters usually are: a head node
with no CPU (it only coordinates) and a worker node that does the work. Losing the worker mid-run stops the run with
one line and exit 75, what came back committed; after a worker joins again, the same command finishes the corpus:
every article analysed exactly once, with the spans of an in-process run."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from spinlens.errors import SpinlensError
from spinlens.scale import run_batch
from spinlens.scale.ray_cluster import RayNode, head_node
from spinlens.scale.synthetic import write_folder
from spinlens.store import Store
from spinlens.store.schema import AnalysisRow

from .test_batch import _spans_by_ref

pytest.importorskip("ray.data", reason="Ray is not installed: pip install 'spinlens[ray]'")


def _node(args: list[str], env: dict[str, str]) -> RayNode:
    try:
        return RayNode(args, env)
    except SpinlensError as exc:
        pytest.skip(f"Ray cannot start a node here: {exc}")


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[str, dict[str, str], list[RayNode]]]:
    """A head node with 0 CPUs; the test adds worker nodes to the list. Every node is stopped at the end (by its
    supervisor, which kills what is left: not `ray stop --force`, which would end every Ray on the machine)."""
    token = secrets.token_hex(32)
    # the cluster's nodes want token authentication; the driver finds the token where `ray start` writes it
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token, "RAY_USAGE_STATS_ENABLED": "0"}
    nodes: list[RayNode] = []
    try:
        head, address = head_node(0, env)
        nodes.append(head)
        yield address, env, nodes
    except SpinlensError as exc:
        pytest.skip(f"Ray cannot start a node here: {exc}")
    finally:
        for node in reversed(nodes):
            node.stop()


def _ray_log(stderr: str) -> Path:
    """The log a failed run names for Ray's own output (kept for the user; the test removes it)."""
    found = re.search(r"\(Ray's log: (\S+\.log)\)", stderr)
    assert found and Path(found[1]).is_file(), stderr
    return Path(found[1])


def _per_document(url: str) -> list[int]:
    """Analyses per analysed document (none while the database or its tables do not exist yet)."""
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            query = select(AnalysisRow.document_id, func.count()).group_by(AnalysisRow.document_id)
            return [count for _, count in c.execute(query)]
    except Exception:  # noqa: BLE001 - not created yet
        return []
    finally:
        engine.dispose()


def test_a_cluster_with_no_cpu_stops_after_the_stall_timeout(
    cluster: tuple[str, dict[str, str], list[RayNode]], tmp_path: Path
) -> None:
    address, cluster_env, nodes = cluster
    assert len(nodes) == 1  # the head, with 0 CPUs: nothing can analyse (an autoscaler could add nodes: it waits)
    corpus = write_folder(tmp_path / "corpus", 3, sentences=2)
    url = f"sqlite:///{tmp_path / 'ray.db'}"
    command = [sys.executable, "-m", "spinlens.cli", "batch", str(corpus), "--db", url, "--ray"]
    command += ["--ray-address", address, "--ray-stall-timeout", "5"]
    env = {**cluster_env, "SPINLENS_PROGRESS": "0"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 75, done.stderr
    assert done.stderr.startswith("error: no result from the Ray cluster for 5 s (Ray's log: "), done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert _per_document(url) == []
    _ray_log(done.stderr).unlink()


def test_losing_the_worker_node_stops_cleanly_and_a_rerun_finishes_exactly(
    cluster: tuple[str, dict[str, str], list[RayNode]], tmp_path: Path
) -> None:
    address, cluster_env, nodes = cluster
    worker = ["--address", address, "--num-cpus=1"]
    nodes.append(_node(worker, cluster_env))

    n = 48
    corpus = write_folder(tmp_path / "corpus", n, sentences=4)
    (tmp_path / "corpus" / "empty.txt").write_text("", encoding="utf-8")
    home = tmp_path / "home"
    (home / ".ray").mkdir(parents=True)
    (home / ".ray" / "auth_token").write_text(cluster_env["RAY_AUTH_TOKEN"], encoding="utf-8")
    # no RAY_AUTH_* here: with the token in ~/.ray/auth_token, spinlens turns token mode on before importing Ray
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env |= {"HOME": str(home), "SPINLENS_PROGRESS": "0"}
    url = f"sqlite:///{tmp_path / 'ray.db'}"
    command = [sys.executable, "-m", "spinlens.cli", "batch", str(corpus), "--db", url, "--ray"]
    command += ["--ray-address", address, "--commit-every", "1"]

    run = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while not _per_document(url):
            assert run.poll() is None, f"the run ended before a result: {run.communicate()[1]}"
            assert time.monotonic() < deadline, "no result in 300 s"
            time.sleep(0.2)
        nodes.pop().kill()  # the worker machine is lost mid-run
        _, stderr = run.communicate(timeout=240)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 75, stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr, stderr
    assert stderr.startswith("error: the Ray cluster has no CPU left (its worker nodes stopped or were lost)"), stderr
    assert stderr.rstrip().endswith("the results done so far are committed; run the same command again to go on")
    _ray_log(stderr).unlink()
    done = _per_document(url)
    assert 0 < len(done) < n, f"{len(done)} of {n} analysed before the worker was lost: make the corpus larger"

    nodes.append(_node(worker, cluster_env))
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 1, again.stderr[-3000:]  # finished; 1: an input failed (empty.txt, from the start)
    assert "1 input(s) failed" in again.stderr and "Traceback" not in again.stderr
    noise = [line for line in again.stderr.splitlines() if any(w in line for w in ("WARNING", "INFO", "(raylet)"))]
    assert not noise, noise  # Ray's own lines went to its log, not to the user
    assert f"{n - len(done)} (" in again.stderr  # "analysed  N (x/s, y s)": exactly what was left
    per_document = _per_document(url)
    assert len(per_document) == n and set(per_document) == {1}
    assert Store(url).failures()[0]["reason"] == "file is empty"

    local = f"sqlite:///{tmp_path / 'local.db'}"
    run_batch([corpus], Store(local), executor="local")
    assert _spans_by_ref(url) == _spans_by_ref(local)
