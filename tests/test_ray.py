"""`spinlens batch --ray` on a real local Ray cluster (`ray start --head`), compared with one process."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from spinlens.scale import run_batch
from spinlens.scale.synthetic import write_folder
from spinlens.store import Store

from .test_batch import _spans_by_ref

pytest.importorskip("ray", reason="Ray is not installed: pip install 'spinlens[ray]'")


# Ray 2.5x clusters want token authentication; this cluster's token is made here and given to both sides
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_cluster():
    ray = shutil.which("ray", path=str(Path(sys.executable).parent)) or shutil.which("ray")
    assert ray, "the ray command should come with the ray package"
    port = _free_port()
    env = {**os.environ, **RAY_ENV}
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must fit in 107 characters
    start = [ray, "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false"]
    start += ["--object-store-memory=300000000", f"--temp-dir={temp}", "--disable-usage-stats"]
    subprocess.run(start, env=env, check=True, capture_output=True, timeout=180)
    yield f"127.0.0.1:{port}"
    subprocess.run([ray, "stop", "--force"], env=env, capture_output=True, timeout=120)
    shutil.rmtree(temp, ignore_errors=True)


def test_ray_batch_on_a_local_cluster_equals_one_process(ray_cluster: str, tmp_path: Path) -> None:
    corpus = write_folder(tmp_path / "corpus", 16, sentences=4)
    (tmp_path / "corpus" / "empty.txt").write_text("", encoding="utf-8")
    on_ray = f"sqlite:///{tmp_path / 'ray.db'}"
    command = [sys.executable, "-m", "spinlens.cli", "batch", str(corpus), "--db", on_ray]
    command += ["--ray", "--ray-address", ray_cluster, "--workers", "2"]
    env = {**os.environ, **RAY_ENV, "SPINLENS_PROGRESS": "0"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "16 (" in done.stderr  # "analysed  16 (x/s, y s)"
    store = Store(on_ray)
    assert store.counts()["analyses"] == 16 and store.failures()[0]["reason"] == "file is empty"

    local = f"sqlite:///{tmp_path / 'local.db'}"
    run_batch([corpus], Store(local), executor="local")
    assert _spans_by_ref(on_ray) == _spans_by_ref(local)

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and store.counts()["analyses"] == 16  # a rerun on the cluster adds nothing
