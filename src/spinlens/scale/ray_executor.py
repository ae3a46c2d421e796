"""Analyses on a Ray cluster with Ray Data: the model is loaded once per actor, documents stream through.

Pending documents go to the cluster in windows (a Ray dataset each) so that a corpus of millions never sits in the
object store at once; results come back to the driver, which commits them like every other executor, so the
store's exactly-once guarantees hold on a cluster too. Needs ``pip install 'spinlens[ray]'``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

from spinlens.document import Analysis, Document
from spinlens.errors import SpinlensError
from spinlens.scale.executors import ExecutorConfig, Result, analyse_chunk

WINDOW = 20_000  # documents per Ray dataset


class _Analyser:
    """A Ray Data actor: one model, loaded when the actor starts."""

    def __init__(self, config: ExecutorConfig, threads: int) -> None:
        self.nlp = config.load(threads).warm_up()

    def __call__(self, batch: dict) -> dict:
        chunk = [(int(i), Document.model_validate_json(d)) for i, d in zip(batch["id"], batch["doc"], strict=True)]
        results = analyse_chunk(self.nlp, chunk)
        return {
            "id": [i for i, _ in results],
            "ok": [not isinstance(r, str) for _, r in results],
            "result": [r if isinstance(r, str) else r.to_json() for _, r in results],
        }


def connect(address: str | None) -> bool:
    """Connect to the cluster at ``address`` (or $RAY_ADDRESS), else start a local one; True if this call did."""
    try:
        import ray
    except ImportError:
        raise SpinlensError("--ray needs Ray: pip install 'spinlens[ray]'") from None
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # nothing leaves the machine
    address = address or os.environ.get("RAY_ADDRESS")
    if address and "RAY_AUTH_MODE" not in os.environ and (Path.home() / ".ray" / "auth_token").is_file():
        # `ray start` turns token authentication on when it finds this token; a driver must then send it
        os.environ["RAY_AUTH_MODE"] = "token"
    if ray.is_initialized():
        return False
    ray.init(
        address=address,
        log_to_driver=False,
        include_dashboard=False,
        logging_level=logging.WARNING,
    )
    return True


def run_ray(items: Iterable[tuple[int, Document]], config: ExecutorConfig) -> Iterator[Result]:
    import ray
    import ray.data

    # a Ray this run started (and its local cluster) ends with the run, on an error or a signal too; Ray's own
    # processes share the driver's fate on SIGKILL, and its actors die with the driver's job
    started = connect(config.ray_address)
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # spinlens draws its own bar
        context.print_on_execution_start = False
        cpus = int(ray.cluster_resources().get("CPU", 1))
        workers = config.workers or cpus
        threads = max(1, cpus // workers)
        it = iter(items)
        while window := list(islice(it, WINDOW)):
            dataset = ray.data.from_items([{"id": i, "doc": d.model_dump_json()} for i, d in window])
            analysed = dataset.map_batches(
                _Analyser,
                fn_constructor_kwargs={"config": config, "threads": threads},
                batch_size=config.chunk_size,
                compute=ray.data.ActorPoolStrategy(size=workers),
                num_cpus=threads,
                batch_format="numpy",
            )
            for batch in analysed.iter_batches(batch_size=config.chunk_size, batch_format="numpy"):
                for doc_id, ok, result in zip(batch["id"], batch["ok"], batch["result"], strict=True):
                    yield int(doc_id), (Analysis.from_json(result) if ok else str(result))
    finally:
        if started:
            ray.shutdown()
