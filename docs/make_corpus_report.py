"""Regenerate docs/corpus-report.png: `python docs/make_corpus_report.py` (needs Debian's chromium and playwright).

Builds the demo corpus of the README (3,000 saved web pages in four outlet folders and an RSS feed of 200 entries,
all synthetic), runs `spinlens batch`, `spinlens report`, and photographs the top of the report.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from spinlens.scale.synthetic import write_feed, write_folder

HERE = Path(__file__).resolve().parent
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    write_folder(tmp / "pages", 3000, seed=3, html=True)
    write_feed(tmp / "wire.rss", 200, seed=9)
    db = f"sqlite:///{tmp / 'demo.db'}"
    spinlens = [sys.executable, "-m", "spinlens.cli"]
    subprocess.run([*spinlens, "batch", str(tmp / "pages"), str(tmp / "wire.rss"), "--db", db, "--outlet-from-folder"])
    subprocess.run([*spinlens, "report", "--db", db, "-o", str(tmp / "report.html")], check=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 1500})
        page.goto((tmp / "report.html").as_uri())
        page.screenshot(path=str(HERE / "corpus-report.png"))
        browser.close()
    print(f"wrote {HERE / 'corpus-report.png'} (corpus and report in {tmp})")


if __name__ == "__main__":
    main()
