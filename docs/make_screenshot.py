"""Regenerate docs/page.png: `python docs/make_screenshot.py` (needs Debian's chromium and playwright)."""

import socket
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import expect, sync_playwright

from spinlens.web import create_app

HERE = Path(__file__).resolve().parent
EXAMPLE = (HERE.parent / "src" / "spinlens" / "examples" / "op-ed.txt").read_text(encoding="utf-8")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def main() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = Path(tempfile.mkdtemp()) / "spinlens.db"
    server = uvicorn.Server(uvicorn.Config(create_app(db_url=f"sqlite:///{db}"), host="127.0.0.1", port=port))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.1)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        page.goto(f"http://127.0.0.1:{port}/")
        page.fill("#text", EXAMPLE)
        page.click("#go")
        expect(page.locator("#score")).not_to_have_text("-", timeout=60_000)
        mark = page.locator("#article mark.s").nth(2)
        mark.hover()
        page.locator("#tip").wait_for(state="visible")
        page.screenshot(path=str(HERE / "page.png"), full_page=True)
        browser.close()
    server.should_exit = True


if __name__ == "__main__":
    main()
