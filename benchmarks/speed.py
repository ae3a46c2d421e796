"""Speed and memory of each model tier on this machine: `python benchmarks/speed.py [--model fast default accurate]`.

Prints a table per tier: model load time (fresh process), articles/s and ms/article for a typical 700-word article
one at a time and batched, the bare encoder forward pass over the same text (so that the overhead of spinlens is
visible), and the peak resident memory; next to the targets of the model-tiers issue. Each tier is measured in a
process of its own, so that memory is its own. ``--record`` writes the numbers into the model's config.json
(``speed``), which ``spinlens models`` shows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

EXAMPLE = Path(__file__).resolve().parents[1] / "src" / "spinlens" / "examples" / "op-ed.txt"


def article_of(words: int = 700) -> str:
    text = EXAMPLE.read_text(encoding="utf-8")
    lines, count = [], 0
    while count < words:
        for line in text.splitlines():
            lines.append(line)
            count += len(line.split())
            if count >= words:
                break
    return "\n".join(lines) + "\n"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


TARGETS = {  # issue 10: articles/s (one at a time), load s, peak RSS GB
    "fast": (10.0, 2.0, 1.0),
    "default": (5.0, 3.0, 1.5),
    "accurate": (1.0, 6.0, 3.0),
}


def measure(model: str, n: int = 20, batch: int = 8) -> dict:
    """In this process (call it in a fresh one): load, then time the 700-word article."""
    t = time.perf_counter()
    import torch

    import spinlens

    nlp = spinlens.load(model).warm_up()
    load_s = time.perf_counter() - t
    text = article_of()
    words, wordpieces = len(text.split()), len(nlp.encoder.tokenizer.encode(text, add_special_tokens=False).ids)
    nlp(text)  # warm caches
    times = []
    for _ in range(n):
        t = time.perf_counter()
        nlp(text)
        times.append(time.perf_counter() - t)
    # the median call: on a shared 2-core machine the mean moved by 30% between runs a minute apart (a few calls
    # slowed by other work), the median by a few percent
    single = statistics.median(times)
    t = time.perf_counter()
    list(nlp.pipe([text] * (n * 2), batch_size=batch))
    batched = (time.perf_counter() - t) / (n * 2)
    t = time.perf_counter()
    for _ in range(n):
        nlp.encoder.encode(text)
    bare = (time.perf_counter() - t) / n
    return {
        "model": f"{nlp.name} {nlp.version}",
        "model_dir": str(nlp.model_dir),
        "threads": torch.get_num_threads(),
        "words": words,
        "wordpieces": wordpieces,
        "load_s": round(load_s, 2),
        "articles_per_s": round(1 / single, 2),
        "batched_articles_per_s": round(1 / batched, 2),
        "bare_encoder_ms": round(bare * 1000),
        "rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="+", default=["default"], help="tiers or model directories")
    parser.add_argument("--n", type=int, default=20, help="articles timed one at a time (twice as many batched)")
    parser.add_argument("--record", action="store_true", help="write the numbers into each model's config.json")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # internal: measure one model in this process
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.n)))
        return
    for model in args.model:
        done = subprocess.run(
            [sys.executable, __file__, "--measure", model, "--n", str(args.n)], capture_output=True, text=True
        )
        if done.returncode != 0:
            Console(stderr=True).print(f"{model}: {(done.stderr.strip().splitlines() or ['failed'])[-1]}")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        rate, load, rss = TARGETS.get(model, (None, None, None))
        table = Table(title=f"spinlens {model}: {r['model']}")
        for col in ("measure", "this machine", f"target ({model} tier)"):
            table.add_column(col)
        table.add_row("machine", f"{cpu_name()}, {os.cpu_count()} cores, torch threads {r['threads']}", "2 cores")
        table.add_row("article", f"{r['words']} words, {r['wordpieces']} wordpieces", "typical 700-word article")
        table.add_row(
            "model load (fresh process, import + load)", f"{r['load_s']:.2f} s", f"< {load} s" if load else ""
        )
        ms = 1000 / r["articles_per_s"]
        table.add_row(
            "one at a time",
            f"{r['articles_per_s']:.2f} articles/s, {ms:.0f} ms/article",
            f">= {rate}/s" if rate else "",
        )
        table.add_row(
            "batched (batch_size=8)", f"{r['batched_articles_per_s']:.2f} articles/s", f">= {rate}/s" if rate else ""
        )
        table.add_row("bare encoder forward, same text", f"{r['bare_encoder_ms']} ms/article", "(the floor)")
        table.add_row("peak resident memory", f"{r['rss_gb']:.2f} GB", f"< {rss} GB" if rss else "")
        Console().print(table)
        if args.record:
            path = Path(r["model_dir"]) / "config.json"
            config = json.loads(path.read_text())
            keys = ("articles_per_s", "batched_articles_per_s", "load_s", "rss_gb")
            config["speed"] = {k: r[k] for k in keys} | {"machine": f"{cpu_name()}, {os.cpu_count()} cores"}
            path.write_text(json.dumps(config, indent=1))


if __name__ == "__main__":
    main()
