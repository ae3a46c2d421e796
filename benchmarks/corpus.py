"""Corpus throughput: `python benchmarks/corpus.py [N]` (default 10,000 articles; needs `pip install -e '.[ray]'`).

Generates N distinct synthetic articles (`spinlens.scale.synthetic`, ~100 words each, four outlets) as one JSONL
file, then runs `run_batch` on a fresh SQLite database with each executor: one process (torch on every core), the
local process pool (one model per core), and Ray with 1 and 2 actors on a local cluster. For each: articles/s over
the whole run, seconds spent reading and registering, analysing, committing, and the peak resident memory of the
whole process tree (driver, workers, Ray's daemons). A last table splits one process's time between the encoder,
the tagger, the decisions and the database, to show where the time goes.
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table

from spinlens.scale import run_batch
from spinlens.scale.executors import ExecutorConfig
from spinlens.scale.synthetic import write_jsonl
from spinlens.store import Store

sys.path.insert(0, str(Path(__file__).parent))
from speed import cpu_name  # noqa: E402


class PeakMemory:
    """Samples the summed RSS of this process and all its descendants every 0.2 s."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):  # a worker may exit between listing and reading
                    total += p.memory_info().rss
            self.peak = max(self.peak, total)
            time.sleep(0.2)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run(corpus: Path, folder: Path, label: str, executor: str, workers: int | None) -> dict:
    db = f"sqlite:///{folder / (label.replace(' ', '-') + '.db')}"
    with PeakMemory() as memory:
        summary = run_batch([corpus], Store(db), executor=executor, config=ExecutorConfig(workers=workers))
    analyse = summary.seconds - summary.register_seconds
    return {
        "label": label,
        "analysed": summary.analysed,
        "rate": summary.analysed / summary.seconds,
        "register": summary.register_seconds,
        "analyse": analyse - summary.commit_seconds,
        "commit": summary.commit_seconds,
        "total": summary.seconds,
        "peak_gb": memory.peak / 1e9,
    }


def profile_one_process(corpus: Path, folder: Path, n: int) -> dict[str, float]:
    """Wall time inside each stage of the detector, for ``n`` articles analysed in this process."""
    import itertools

    import spinlens
    from spinlens.detect.pipeline import Detector
    from spinlens.sources import jsonl_documents

    nlp = spinlens.load().warm_up()
    spent = {"encoder": 0.0, "tagger": 0.0, "decisions": 0.0}
    encode, predict, decide = nlp.encoder.encode_many, type(nlp.taggers[0]).predict, Detector._decide

    def timed(key, fn):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - t

        return wrapper

    nlp.encoder.encode_many = timed("encoder", encode)
    type(nlp.taggers[0]).predict = timed("tagger", predict)
    Detector._decide = timed("decisions", decide)
    try:
        docs = list(itertools.islice(jsonl_documents(corpus), n))
        db = Store(f"sqlite:///{folder / 'profile.db'}")
        t = time.perf_counter()
        analyses = list(nlp.pipe(docs))
        detect = time.perf_counter() - t
        db.register([(f"p{i}", d, None) for i, d in enumerate(docs)])
        ids = [i for i, _ in db.pending(nlp.name, nlp.version, limit=n)]
        t = time.perf_counter()
        db.save_results(list(zip(ids, analyses, strict=True)))
        spent["database"] = time.perf_counter() - t
        spent["other (tokenising, windows, objects)"] = detect - spent["encoder"] - spent["tagger"] - spent["decisions"]
    finally:
        nlp.encoder.encode_many = encode
        type(nlp.taggers[0]).predict = predict
        Detector._decide = decide
    return spent


def main(n: int = 10_000) -> None:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    console = Console(width=130)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        corpus = write_jsonl(folder / "corpus.jsonl", n, seed=7, sentences=8)
        words = sum(len(line.split()) for line in corpus.read_text(encoding="utf-8").splitlines()) // n
        rows = [
            run(corpus, folder, "one process", "local", None),
            run(corpus, folder, f"process pool ({os.cpu_count()} workers)", "pool", None),
        ]
        import ray

        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        rows.append(run(corpus, folder, "Ray, 1 actor", "ray", 1))
        rows.append(run(corpus, folder, "Ray, 2 actors", "ray", 2))
        ray.shutdown()
        spent = profile_one_process(corpus, folder, min(n, 300))

    table = Table(
        title=f"spinlens batch on {n:,} synthetic articles (~{words} words; JSONL -> SQLite)\n"
        f"{cpu_name()}, {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
        f"Python {platform.python_version()}"
    )
    for col in ("executor", "analysed", "articles/s", "read+register s", "analyse s", "commit s", "total s", "peak GB"):
        table.add_column(col, justify="left" if col == "executor" else "right")
    for r in rows:
        table.add_row(
            r["label"],
            f"{r['analysed']:,}",
            f"{r['rate']:.1f}",
            f"{r['register']:.1f}",
            f"{r['analyse']:.1f}",
            f"{r['commit']:.1f}",
            f"{r['total']:.1f}",
            f"{r['peak_gb']:.2f}",
        )
    console.print(table)
    console.print(
        "Peer: the single-article path of benchmarks/speed.py (6.2 articles/s batched on a 700-word article, 2 cores)."
    )
    where = Table(title=f"Where one process's time goes ({min(n, 300)} articles)")
    where.add_column("stage")
    where.add_column("seconds", justify="right")
    where.add_column("share", justify="right")
    total = sum(spent.values())
    for stage, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        where.add_row(stage, f"{seconds:.2f}", f"{seconds / total:.0%}")
    console.print(where)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
