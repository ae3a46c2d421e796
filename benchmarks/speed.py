"""Speed and memory of the shipped detector on this machine: `python benchmarks/speed.py`.

Prints a table: model load time, articles/s and ms/article for a typical 700-word article one at a time and
batched, the bare encoder forward pass over the same text (so that the overhead of spinlens is visible), and the
peak resident memory; next to the targets of the detection issue.
"""

from __future__ import annotations

import os
import platform
import resource
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


def main(n: int = 20, batch: int = 8) -> None:
    load_s = float(
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import time;t=time.perf_counter();import spinlens;spinlens.load().warm_up();print(time.perf_counter()-t)",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    import torch

    import spinlens

    nlp = spinlens.load().warm_up()
    text = article_of()
    words, wordpieces = len(text.split()), len(nlp.encoder.tokenizer.encode(text, add_special_tokens=False).ids)
    nlp(text)  # warm caches
    t = time.perf_counter()
    for _ in range(n):
        nlp(text)
    single = (time.perf_counter() - t) / n
    t = time.perf_counter()
    list(nlp.pipe([text] * (n * 2), batch_size=batch))
    batched = (time.perf_counter() - t) / (n * 2)
    t = time.perf_counter()
    for _ in range(n):
        nlp.encoder.encode(text)
    bare = (time.perf_counter() - t) / n
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2

    table = Table(title=f"spinlens {spinlens.__version__}, model {nlp.name} {nlp.version}")
    for col in ("measure", "this machine", "target (detection issue)"):
        table.add_column(col)
    table.add_row(
        "machine", f"{cpu_name()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}", "2 cores"
    )
    table.add_row("article", f"{words} words, {wordpieces} wordpieces", "typical 700-word article")
    table.add_row("model load (fresh process, import + load)", f"{load_s:.2f} s", "< 3 s")
    table.add_row("one at a time", f"{1 / single:.2f} articles/s, {single * 1000:.0f} ms/article", ">= 5 articles/s")
    table.add_row(
        f"batched (batch_size={batch})",
        f"{1 / batched:.2f} articles/s, {batched * 1000:.0f} ms/article",
        ">= 5 articles/s",
    )
    table.add_row(
        "bare encoder forward, same text",
        f"{bare * 1000:.0f} ms/article ({bare / single:.0%} of one-at-a-time)",
        "(the floor)",
    )
    table.add_row("peak resident memory", f"{rss_gb:.2f} GB", "< 1.5 GB")
    Console().print(table)


if __name__ == "__main__":
    main()
