"""End to end in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright)."""

import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from spinlens import taxonomy

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


def _serve(db_path, token=None, **options):
    import uvicorn

    from spinlens.web import create_app

    port = _free_port()
    app = create_app(db_url=f"sqlite:///{db_path}", token=token, **options)
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
    assert taxonomy.display_name(technique) in tip.inner_text()
    assert "Propaganda at all:" in tip.inner_text() and "This technique, given that:" in tip.inner_text()
    assert "passages with" in page.locator("#summary").inner_text()
    assert page.locator("#model-name").inner_text().startswith("ptc-minilm-bilstm ")  # which model answered
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


def _post(server: str, document: dict) -> dict:
    import urllib.request

    request = urllib.request.Request(
        server + "/api/analyze", data=json.dumps(document).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as r:
        return json.loads(r.read())


def test_the_title_is_shown_once(server, browser):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(server + "/")
    _analyse(page, EXAMPLE)
    first_line = EXAMPLE.strip().splitlines()[0]
    assert page.locator("#analyse-view").inner_text().count(first_line) == 1
    expect(page.locator("#title")).to_be_hidden()
    # a title of its own (not the text's first line) is the heading, once
    stored = _post(server, {"title": "A headline of its own", "text": "The regime lies to us.\nAgain and again.\n"})
    page.goto(server + f"/#analysis-{stored['id']}")
    expect(page.locator("#title")).to_have_text("A headline of its own")
    assert page.locator("#analyse-view").inner_text().count("A headline of its own") == 1
    page.close()


def test_history_pages_searches_and_deletes_with_confirmation(browser, tmp_path):
    from playwright.sync_api import expect

    srv, thread, url = _serve(tmp_path / "history.db")
    try:
        ids = [
            _post(url, {"text": f"Bulletin {i}: the regime lies about the {'harbour' if i % 5 == 0 else 'budget'}."})[
                "id"
            ]
            for i in range(23)
        ]
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.goto(url + "/#history")
        rows = page.locator("#history tbody tr")
        expect(rows).to_have_count(20)
        assert rows.first.locator("a").inner_text() == "Bulletin 22: the regime lies about the budget."
        scores = rows.locator("td.score").all_inner_texts()
        assert all(s.endswith("%") for s in scores), scores  # the overall score in each row
        expect(page.locator("#history-prev")).to_be_disabled()
        page.click("#history-next")
        expect(rows).to_have_count(3)
        expect(page.locator("#history-next")).to_be_disabled()
        page.click("#history-prev")
        expect(rows).to_have_count(20)
        # search by text
        page.fill("#history-q", "HARBOUR")
        page.click("#history-find")
        expect(rows).to_have_count(5)  # bulletins 0, 5, 10, 15, 20
        # delete asks first: dismissed, nothing happens; accepted, the analysis is gone
        dialogs = []
        page.once("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        rows.first.locator("button.delete").click()
        expect(rows).to_have_count(5)
        assert dialogs and "Bulletin 20" in dialogs[0]
        page.once("dialog", lambda d: d.accept())
        rows.first.locator("button.delete").click()
        expect(rows).to_have_count(4)
        assert "Bulletin 20" not in page.locator("#history").inner_text()
        import urllib.error
        import urllib.request

        with pytest.raises(urllib.error.HTTPError) as gone:
            urllib.request.urlopen(url + f"/api/analyses/{ids[20]}", timeout=30)
        assert gone.value.code == 404
        page.close()
    finally:
        srv.should_exit = True
        thread.join(10)


def test_the_sidebar_stays_in_view_on_a_long_article(server, browser):
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(server + "/")
    _analyse(page, EXAMPLE * 6)
    assert page.locator("#article").bounding_box()["height"] > 2 * 900
    page.locator("#article mark.s").last.scroll_into_view_if_needed()
    assert page.evaluate("() => window.scrollY") > 900
    aside = page.locator("aside").bounding_box()
    assert 0 <= aside["y"] < 900, aside
    score = page.locator("#score").bounding_box()
    assert 0 <= score["y"] < 900, "the overall score is on screen at the end of a long article"
    page.close()


def test_the_dashboard_and_the_app_link_to_each_other(server, browser):
    page = browser.new_page()
    page.goto(server + "/")
    page.click("#nav-dashboard")
    page.wait_for_url(server + "/dashboard")
    page.click("#nav-app")
    page.wait_for_url(server + "/")
    page.locator("#text").wait_for()
    page.close()


def test_phone_layout_and_keyboard_reach_every_span(server, browser):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(server + "/")
    _analyse(page, EXAMPLE)
    article, aside = page.locator("#article").bounding_box(), page.locator("aside").bounding_box()
    assert aside["x"] >= 0 and aside["x"] + aside["width"] <= 390, "the sidebar fits the phone's width"
    assert article["x"] + article["width"] <= 390 and aside["y"] >= article["y"] + article["height"] - 1, (
        "one column: the sidebar comes below the article"
    )
    marks = page.locator("#article mark.s")
    assert marks.count() >= 3
    # Tab from the text box reaches the first highlighted passage; its tooltip opens and it announces itself
    page.focus("#go")
    page.keyboard.press("Tab")  # the file input
    for _ in range(5):
        if page.evaluate("() => document.activeElement.tagName") == "MARK":
            break
        page.keyboard.press("Tab")
    label = page.evaluate("() => document.activeElement.getAttribute('aria-label')")
    assert label and "likely" in label and "propaganda at all" in label
    expect(page.locator("#tip")).to_be_visible()
    tip = page.locator("#tip").bounding_box()
    assert tip["x"] >= 0 and tip["x"] + tip["width"] <= 390, "the tooltip stays on the phone's screen"
    page.keyboard.press("Escape")
    expect(page.locator("#tip")).to_be_hidden()
    snapshot = page.locator("#article").aria_snapshot()
    assert snapshot.count("likely") >= marks.count(), "every passage is named for a screen reader"
    if os.environ.get("SPINLENS_SCREENSHOTS"):  # docs/page-phone.png
        page.screenshot(path=str(REPO / "docs" / "page-phone.png"))
    page.close()


def test_a_neutral_text_says_no_technique_found(server, browser):
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(server + "/")
    _analyse(page, "The library opens at nine on weekdays and at ten on Saturdays.")
    expect(page.locator("#summary")).to_have_text("No technique found in this text.")
    assert page.locator("#score").inner_text() == "0%" and page.locator("#article mark.s").count() == 0
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


def test_page_signs_in_once_with_an_httponly_cookie(browser, tmp_path):
    """With a token, the pages show a sign-in form; its cookie then serves the page, the API and the dashboard,
    and the token never appears in a URL, a prompt or the page's storage."""
    srv, thread, url = _serve(tmp_path / "t.db", token="s3cret")
    context = browser.new_context()
    try:
        page = context.new_page()
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(url + "/")
        page.fill("#token", "wrong")
        page.click("#sign-in")
        assert "Wrong token" in page.locator("#error").inner_text()
        page.fill("#token", "s3cret")
        page.click("#sign-in")
        page.wait_for_url(url + "/")
        (cookie,) = [c for c in context.cookies() if c["name"] == "spinlens_session"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and "s3cret" not in cookie["value"]
        _analyse(page, EXAMPLE)
        assert page.locator("#article mark.s").count() >= 5
        _analyse(page, EXAMPLE + "\nOne more line.\n")
        assert dialogs == []
        assert "s3cret" not in json.dumps(context.storage_state()["origins"])  # nothing in the page's storage
        page.click("#nav-dashboard")
        page.wait_for_url(url + "/dashboard")
        assert page.locator("h1").inner_text() == "spinlens corpus report"
        page.locator("a[href^='/analyses/']").first.click()
        assert page.locator("span.s").count() >= 5  # the highlighted article
        assert "token" not in page.url and dialogs == []
        page.close()
        # another browser, without the cookie, gets the form again, not the page
        other = browser.new_page()
        other.goto(url + "/dashboard")
        assert other.locator("#token").count() == 1 and other.locator("h1").inner_text() == "Sign in"
        other.close()
    finally:
        context.close()
        srv.should_exit = True
        thread.join(10)


def test_another_sites_page_cannot_make_the_browser_analyse(server, browser):
    """A page on another origin (here another loopback port, the hardest case: same site) posts a form and fires
    no-cors fetches at the API: every one is refused and nothing is stored."""
    import http.server
    import urllib.request

    def n_stored() -> int:
        request = urllib.request.Request(server + "/api/analyses?limit=500")
        with urllib.request.urlopen(request, timeout=30) as r:
            return len(json.loads(r.read()))

    attack = f"""<!DOCTYPE html><html><body>
<form id="f" method="post" action="{server}/api/analyze" enctype="text/plain">
<input name="The corrupt regime lies to its people" value=" every single day, forged."></form>
<script>
const fd = new FormData();
fd.append("file", new Blob(["The corrupt regime lies every single day, uploaded."], {{type: "text/plain"}}), "a.txt");
Promise.allSettled([
  fetch("{server}/api/analyze", {{method: "POST", mode: "no-cors", body: "The corrupt regime lies, fetched."}}),
  fetch("{server}/api/analyze/file", {{method: "POST", mode: "no-cors", body: fd}}),
  fetch("{server}/api/analyze", {{method: "POST", mode: "no-cors", credentials: "include",
    headers: {{"Content-Type": "text/plain"}}, body: "The corrupt regime lies, with credentials."}}),
]).then(() => document.getElementById("f").submit());
</script></body></html>""".encode()

    class Attacker(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(attack)))
            self.end_headers()
            self.wfile.write(attack)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Attacker)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        before = n_stored()
        page = browser.new_page()
        with page.expect_response(lambda r: r.url == server + "/api/analyze" and r.request.method == "POST") as form:
            page.goto(f"http://127.0.0.1:{httpd.server_address[1]}/")
            page.wait_for_url(server + "/api/analyze", timeout=30_000)
        assert form.value.status == 403
        assert "refused" in page.content()
        page.close()
        assert n_stored() == before
    finally:
        httpd.shutdown()
        httpd.server_close()


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


def test_docs_render_swagger_ui_for_this_api_offline(server, browser):
    """/docs is Swagger UI served by this server itself: with every other origin unreachable (as on a machine
    without internet) it still shows this API's title and operations, with no script error and no CSP refusal."""
    from playwright.sync_api import expect

    context = browser.new_context()
    elsewhere: list[str] = []

    def this_server_only(route):
        url = route.request.url
        if url.startswith((server + "/", "data:")):
            route.continue_()
        else:
            elsewhere.append(url)
            route.abort("internetdisconnected")

    context.route("**/*", this_server_only)
    try:
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(server + "/docs")
        expect(page.locator("#swagger-ui .info .title")).to_contain_text("spinlens", timeout=30_000)
        expect(page.locator("#swagger-ui .info")).to_contain_text("propaganda techniques")
        operation = page.locator('#swagger-ui .opblock-summary-path[data-path="/api/analyze"]')
        expect(operation).to_have_text("/api/analyze")
        for method in ("get", "delete"):
            expect(
                page.locator(
                    f'#swagger-ui .opblock-{method} .opblock-summary-path[data-path="/api/analyses/{{analysis_id}}"]'
                )
            ).to_be_visible()
        assert elsewhere == []
        assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
        page.close()
    finally:
        context.close()
