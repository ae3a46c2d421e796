"""End to end in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright)."""

import json
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from .conftest import REPO

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not shutil.which("chromium") and not __import__("os").path.exists(CHROMIUM),
    reason="Chromium not installed (apt-get install chromium; .ci/run installs it)",
)
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EXAMPLE = (REPO / "src" / "spinlens" / "examples" / "op-ed.txt").read_text(encoding="utf-8")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(db_path, token=None):
    import uvicorn

    from spinlens.web import create_app

    port = _free_port()
    app = create_app(db_url=f"sqlite:///{db_path}", token=token)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not srv.started and time.time() < deadline:
        time.sleep(0.1)
    assert srv.started, "server did not start"
    return srv, thread, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv, thread, url = _serve(tmp_path_factory.mktemp("db") / "spinlens.db")
    yield url
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def _analyse(page, text: str) -> None:
    from playwright.sync_api import expect

    page.fill("#text", text)
    page.click("#go")
    # locators, not wait_for_function: the page's Content-Security-Policy forbids evaluating strings
    expect(page.locator("#score")).not_to_have_text("-", timeout=60_000)


def test_paste_highlight_hover_threshold_export_history(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(server + "/")
    _analyse(page, EXAMPLE)
    marks = page.locator("#article mark.s")
    n_all = marks.count()
    assert n_all >= 5
    assert page.locator("#article").inner_text().replace("\r", "") == EXAMPLE
    marks.first.hover()
    tip = page.locator("#tip")
    tip.wait_for(state="visible")
    technique = marks.first.get_attribute("data-techniques").split("|")[0]
    assert technique.replace("_", " ") in tip.inner_text()
    # the threshold hides low-confidence spans
    page.locator("#threshold").fill("0.3")
    page.dispatch_event("#threshold", "input")
    assert page.locator("#threshold-value").inner_text() == "0.30"
    assert page.locator("#article mark.s").count() < n_all
    page.locator("#threshold").fill("0")
    page.dispatch_event("#threshold", "input")
    with page.expect_download() as download:
        page.click("#export-json")
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert exported["text"] == EXAMPLE and len(exported["spans"]) >= 5
    # history lists it and re-opens it
    page.goto(server + "/#history")
    link = page.locator("#history a").first
    link.wait_for()
    link.click()
    page.locator("#article mark.s").first.wait_for()
    assert page.locator("#article").inner_text().replace("\r", "") == EXAMPLE
    page.screenshot(path=str(tmp_path / "page.png"))
    page.close()


def test_xss_payload_in_text_does_not_execute(server, browser):
    page = browser.new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(server + "/")
    payload = 'The corrupt regime <script>alert(1)</script><img src=x onerror="alert(2)"> lies <a href="javascript:alert(3)">here</a>!'
    _analyse(page, payload)
    page.wait_for_timeout(300)
    assert dialogs == []
    assert page.locator("#article img, #article script, #article a").count() == 0
    assert "<script>alert(1)</script>" in page.locator("#article").inner_text()
    page.close()


def test_page_asks_for_the_token_once(browser, tmp_path):
    srv, thread, url = _serve(tmp_path / "t.db", token="s3cret")
    try:
        page = browser.new_page()
        prompts = []

        def answer(dialog):
            prompts.append(dialog.message)
            dialog.accept("s3cret")

        page.on("dialog", answer)
        page.goto(url + "/")
        _analyse(page, EXAMPLE)
        assert page.locator("#article mark.s").count() >= 5
        _analyse(page, EXAMPLE + "\nOne more line.\n")
        assert len(prompts) == 1 and "token" in prompts[0]
        # the dashboard link carries the token the page was given (a link cannot send a header)
        page.click("#nav-dashboard")
        page.wait_for_url("**/dashboard?token=s3cret")
        assert page.locator("h1").inner_text() == "spinlens corpus report"
        page.locator("a[href^='/analyses/']").first.click()
        assert page.locator("span.s").count() >= 5  # the highlighted article
        assert len(prompts) == 1
        page.close()
    finally:
        srv.should_exit = True
        thread.join(10)


def test_xss_in_uploaded_file_title_and_name_does_not_execute(server, browser):
    page = browser.new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(server + "/")
    html_page = (
        "<html><head><title>&lt;img src=x onerror=alert(6)&gt; Regime lies</title></head><body><article>"
        "<h1>&lt;script&gt;alert(7)&lt;/script&gt; Regime lies</h1><p>"
        + "The corrupt regime &lt;img src=x onerror=alert(8)&gt; lies to its people every single day. " * 6
        + "</p></article></body></html>"
    )
    page.set_input_files(
        "#file",
        files=[{"name": '"><img src=x onerror=alert(9)>.html', "mimeType": "text/html", "buffer": html_page.encode()}],
    )
    from playwright.sync_api import expect

    expect(page.locator("#score")).not_to_have_text("-", timeout=60_000)
    page.wait_for_timeout(300)
    assert dialogs == []
    assert page.locator("#article img, #title img, #article script").count() == 0
    assert "onerror=alert(8)" in page.locator("#article").inner_text()
    page.goto(server + "/#history")
    page.locator("#history a").first.wait_for()
    page.wait_for_timeout(200)
    assert page.locator("#history img").count() == 0 and dialogs == []
    page.close()
