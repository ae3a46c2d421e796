"""Analyses on a Ray cluster with Ray Data: the model is loaded once per actor, documents stream through.

Pending documents go to the cluster in windows (a Ray dataset each) so that a corpus of millions never sits in the
object store at once; results come back to the driver, which commits them like every other executor, so the
store's exactly-once guarantees hold on a cluster too. Needs ``pip install 'spinlens[ray]'``.

A cluster fails loud and clean: a watchdog ends the run with `ClusterLost` (the batch commits what came back, the
command prints one line and exits 75) when the Ray node the driver is on stops (its raylet died), when the
cluster has no CPU left (its worker nodes were lost), or when no result has come back for ``ray_stall_timeout``
seconds (a cluster with no CPU from the start, which an autoscaler may yet grow, waits that long).
Authentication, the local cluster's supervision and Ray's output are `spinlens.scale.ray_cluster`'s.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import BrokenExecutor
from itertools import islice
from types import ModuleType

from spinlens.detect.pipeline import model_identity
from spinlens.document import Analysis, Document
from spinlens.errors import SpinlensError
from spinlens.scale.executors import ExecutorConfig, Result, analyse_chunk
from spinlens.scale.ray_cluster import RayLog, head_node, import_ray

WINDOW = 20_000  # documents per Ray dataset
CHECK_SECONDS = 1.0  # how often the driver checks that its Ray node is alive
CPU_CHECK_SECONDS = 3.0  # how often it asks the cluster for its CPUs
CPU_GRACE_SECONDS = 10.0  # a cluster with no CPU for this long has lost its worker nodes
STOP_SECONDS = 10.0  # a window's Ray Data execution gets this long to stop before Ray is shut down
SHUTDOWN_SECONDS = 20.0  # disconnecting from a broken cluster can hang: it is not waited for longer


class ClusterLost(BrokenExecutor):
    """The Ray cluster cannot go on; what came back before is committed, and a rerun goes on from there."""


class _Analyser:
    """A Ray Data actor: one model, loaded when the actor starts."""

    def __init__(self, config: ExecutorConfig, threads: int) -> None:
        self.nlp = config.load(threads).warm_up()  # the model, with the catalogues of known claims
        self.identity = identity(self.nlp.name, self.nlp.version)

    def __call__(self, batch: dict) -> dict:
        chunk = [(int(i), Document.model_validate_json(d)) for i, d in zip(batch["id"], batch["doc"], strict=True)]
        results = analyse_chunk(self.nlp, chunk)
        return {
            "id": [i for i, _ in results],
            "ok": [not isinstance(r, str) for _, r in results],
            "result": [r if isinstance(r, str) else r.to_json() for _, r in results],
            "by": [self.identity] * len(results),
        }


def identity(model: str, version: str) -> str:
    """What a node analyses with: results are stored under the driver's model, so every node must have it."""
    import spinlens

    return f"spinlens {spinlens.__version__}, model {model}/{version}"


@contextlib.contextmanager
def _our_signal_handlers() -> Iterator[None]:
    """Keep this run's SIGINT/SIGTERM handlers: `ray.init` replaces them (SIGTERM: exit 15 with a signal dump)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in saved.items():
            if handler is not None:
                signal.signal(s, handler)


def _connect(ray: ModuleType, address: str | None, log: RayLog) -> None:
    try:
        ray.init(address=address, log_to_driver=False, include_dashboard=False, logging_level=logging.WARNING)
    except Exception as exc:  # noqa: BLE001 - Ray raises many kinds; the user gets one line
        where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        said = f"{type(exc).__name__} {exc} {log.path.read_text(encoding='utf-8', errors='replace')[-20_000:]}"
        if "InvalidAuthToken" in said or "AuthenticationError" in said:
            reason = (
                "it asks for an authentication token this run does not have or that is wrong: put the cluster's "
                "token (`ray get-auth-token` on the head node) in ~/.ray/auth_token or $RAY_AUTH_TOKEN"
            )
        raise SpinlensError(f"cannot connect to {where}: {reason} (Ray's log: {log.path})") from None
    for name in ("ray", "ray.data"):  # Ray Data's notes and warnings belong in the log, not the user's terminal
        logging.getLogger(name).setLevel(logging.ERROR)


def _disconnect(ray: ModuleType) -> None:
    """`ray.shutdown`, not waited for past `SHUTDOWN_SECONDS` (it can hang when the cluster is gone)."""
    thread = threading.Thread(target=ray.shutdown, name="ray_spinlens_shutdown", daemon=True)
    thread.start()
    thread.join(SHUTDOWN_SECONDS)


def _raylet_address() -> tuple[str, int] | None:
    """Where this driver's Ray node listens (Ray's private API; None where it has moved)."""
    try:
        import ray._private.worker as worker

        node = worker.global_worker.node
        return node.node_ip_address, int(node.node_manager_port)
    except Exception:  # noqa: BLE001
        return None


def _listening(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=CHECK_SECONDS):
            return True
    except TimeoutError:
        return True  # busy, not gone
    except OSError:
        return False


def _alive_cpus(ray: ModuleType) -> float:
    return sum(n.get("Resources", {}).get("CPU", 0.0) for n in ray.nodes() if n.get("Alive"))


_END = object()


class _Feed(threading.Thread):
    """Sends one window through the cluster; its results (or the exception that ended it) go to ``out``."""

    def __init__(self, ray: ModuleType, window: list[tuple[int, Document]], config: ExecutorConfig,
                 shape: tuple[int, int], out: queue.Queue) -> None:  # fmt: skip
        super().__init__(name="ray_spinlens_feed", daemon=True)
        self.ray, self.window, self.config, self.shape, self.out = ray, window, config, shape, out
        self.dataset_id: str | None = None

    def run(self) -> None:
        ray, config = self.ray, self.config
        workers, threads = self.shape
        try:
            dataset = ray.data.from_items([{"id": i, "doc": d.model_dump_json()} for i, d in self.window])
            analysed = dataset.map_batches(
                _Analyser,
                fn_constructor_kwargs={"config": config, "threads": threads},
                batch_size=config.chunk_size,
                compute=ray.data.ActorPoolStrategy(size=workers),
                num_cpus=threads,
                batch_format="numpy",
            )
            self.dataset_id = analysed.get_dataset_id()
            for batch in analysed.iter_batches(batch_size=config.chunk_size, batch_format="numpy"):
                self.out.put(list(zip(batch["id"], batch["ok"], batch["result"], batch["by"], strict=True)))
            self.out.put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the driver's thread, which decides
            self.out.put(exc)

    def stop(self, why: Exception) -> None:
        """End this window's Ray Data execution and wait (bounded) for it and this thread to finish.

        Ray Data runs a dataset in a thread of its own that calls Ray; left running into `ray.shutdown`, it
        touches Ray's core worker after shutdown, and Ray then ends the whole process with exit 1 before the
        run can commit what came back or say why. Seen in 6 of 15 runs stopped by the stall timeout while the
        actors were still waiting for a CPU (tests/test_ray.py's no-CPU cluster)."""
        deadline = time.monotonic() + STOP_SECONDS
        try:
            from ray.data._internal.execution.streaming_executor import StreamingExecutor  # Ray's private API
        except ImportError:
            StreamingExecutor = None  # noqa: N806 - moved in another Ray: the join below still bounds the wait
        ours = (self.dataset_id or "?").rsplit("_", 1)[0]  # an execution's id is the dataset's with its own number
        executions = [
            t for t in threading.enumerate()
            if StreamingExecutor and isinstance(t, StreamingExecutor) and t._dataset_id.rsplit("_", 1)[0] == ours
        ]  # fmt: skip
        for execution in executions:
            with contextlib.suppress(Exception):  # a broken cluster can make it fail: the join still bounds the wait
                execution.shutdown(force=True, exception=why)
        for thread in (*executions, self):
            thread.join(max(0.0, deadline - time.monotonic()))


def _watch_cpus(ray: ModuleType, out: queue.Queue, stop: threading.Event) -> None:
    """Report `ClusterLost` when the cluster has had no CPU for `CPU_GRACE_SECONDS` (in a thread: a lost head
    can make Ray's calls hang)."""
    since = None
    seen = False  # a cluster that has had no CPU yet may be scaling up (an autoscaler): the stall timeout waits
    while not stop.wait(CPU_CHECK_SECONDS):
        try:
            cpus = _alive_cpus(ray)
        except Exception:  # noqa: BLE001 - the node check and the stall timeout cover a cluster that stopped answering
            continue
        seen = seen or cpus > 0
        since = None if cpus > 0 or not seen else since or time.monotonic()
        if since and time.monotonic() - since > CPU_GRACE_SECONDS:
            out.put(ClusterLost("the Ray cluster has no CPU left (its worker nodes stopped or were lost)"))
            return


def _results(ray: ModuleType, window: list[tuple[int, Document]], config: ExecutorConfig,
             shape: tuple[int, int]) -> Iterator[Result]:  # fmt: skip
    """One window's results, watched: `ClusterLost` when the node dies, the CPUs go or nothing comes back."""
    out: queue.Queue = queue.Queue()
    stop = threading.Event()
    feed = _Feed(ray, window, config, shape, out)
    feed.start()
    watcher = threading.Thread(target=_watch_cpus, args=(ray, out, stop), name="ray_spinlens_cpus", daemon=True)
    watcher.start()
    raylet = _raylet_address()
    expected = identity(*model_identity(config.model))
    last = checked = time.monotonic()
    try:
        while True:
            try:
                item = out.get(timeout=CHECK_SECONDS)
            except queue.Empty:
                item = None
            if item is _END:
                return
            if isinstance(item, ClusterLost):
                raise item
            if isinstance(item, BaseException):
                first = (str(item).strip().splitlines() or [""])[0][:300]
                raise ClusterLost(f"Ray failed: {type(item).__name__}: {first}")
            if item:
                last = time.monotonic()
                if wrong := {str(by) for *_, by in item} - {expected}:
                    raise SpinlensError(
                        f"a Ray node analyses with {wrong.pop()}, this run with {expected}: install the same "
                        "spinlens and model tier on every node (docs/cluster.md); nothing it did was stored"
                    )
                for doc_id, ok, result, _ in item:
                    yield int(doc_id), (Analysis.from_json(result) if ok else str(result))
            if raylet and time.monotonic() - checked > CHECK_SECONDS:
                checked = time.monotonic()
                if not _listening(raylet):
                    raise ClusterLost(
                        f"the Ray node this run is on stopped (its raylet at {raylet[0]}:{raylet[1]} died)"
                    )
            if time.monotonic() - last > config.ray_stall_timeout:
                raise ClusterLost(f"no result from the Ray cluster for {config.ray_stall_timeout:.0f} s")
    except BaseException as exc:
        if feed.is_alive():  # stopped before the window's end: Ray Data must not outlive this run's Ray
            feed.stop(exc if isinstance(exc, Exception) else ClusterLost("the run was interrupted"))
        raise
    finally:
        stop.set()
        watcher.join(CPU_CHECK_SECONDS)  # it calls Ray too: not into `ray.shutdown`


def run_ray(items: Iterable[tuple[int, Document]], config: ExecutorConfig) -> Iterator[Result]:
    address = config.ray_address or os.environ.get("RAY_ADDRESS") or None
    with _our_signal_handlers():
        ray = import_ray(address)
    log = RayLog()
    ours = not ray.is_initialized()  # a Ray the caller started (a notebook, a benchmark) stays theirs
    cluster = None
    failed = False
    try:
        if ours and address is None and sys.platform.startswith("linux"):  # elsewhere `ray.init` starts one
            cluster, address = head_node(None)
        if ours:
            with _our_signal_handlers():
                _connect(ray, address, log)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # spinlens draws its own bar
        context.print_on_execution_start = False
        # no CPU yet: an autoscaler may add worker nodes when the actors ask; --ray-stall-timeout bounds the wait
        cpus = max(1, int(ray.cluster_resources().get("CPU", 0)))
        workers = config.workers or cpus
        shape = (workers, max(1, cpus // workers))
        it = iter(items)
        try:
            while window := list(islice(it, WINDOW)):
                yield from _results(ray, window, config, shape)
        except ClusterLost as exc:
            raise ClusterLost(f"{exc} (Ray's log: {log.path})") from None
    except (SpinlensError, BrokenExecutor):
        failed = True
        raise
    finally:
        if ours and ray.is_initialized():
            _disconnect(ray)
        if cluster:
            cluster.stop()
        log.restore(keep=failed)
