"""The page and every report on a phone (390 px wide), by keyboard and by touch; "nothing found"; short titles; a
busy server; progress and Cancel. Real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

Screenshots go to the test's temporary folder, and to docs/phone/ with SPINLENS_SCREENSHOTS=1."""

from __future__ import annotations

import json
import os
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from spinlens.textutil import short_title

from .conftest import REPO
from .test_browser import CHROMIUM, EXAMPLE, _analyse, _post, _serve

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="Chromium not installed (apt-get install chromium)"
)
PHONE = {"width": 390, "height": 844}
LONG_TITLE = (
    "An extraordinarily long headline about the regime, its puppets and their lies that keeps going well past "
    "eighty characters"
)
NEUTRAL = "The library opens at nine on weekdays and at ten on Saturdays."


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    db = tmp_path_factory.mktemp("phone") / "spinlens.db"
    srv, thread, url = _serve(db)
    yield url, db
    srv.should_exit = True
    thread.join(10)


def _fits(page, what: str) -> None:
    width = page.evaluate("() => document.scrollingElement.scrollWidth")
    assert width <= PHONE["width"], f"{what} is {width} px wide on a 390 px screen"


def _shot(page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    if os.environ.get("SPINLENS_SCREENSHOTS"):
        (REPO / "docs" / "phone").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(REPO / "docs" / "phone" / f"{name}.png"))


def _details_by_focus_and_tap(page, passage: str, details: str) -> None:
    """The first highlighted passage shows its details when Tab reaches it, and again when a finger taps it."""
    from playwright.sync_api import expect

    first = page.locator(passage).first
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    for _ in range(40):  # Tab from the top until the first passage has focus
        page.keyboard.press("Tab")
        if first.evaluate("e => e === document.activeElement"):
            break
    else:
        raise AssertionError("Tab never reaches a highlighted passage")
    expect(page.locator(details).first).to_be_visible()
    _fits(page, "the page with a passage's details open")
    first.blur()
    page.mouse.click(1, 1)  # elsewhere: the details close
    expect(page.locator(details).first).to_be_hidden()
    first.tap()
    expect(page.locator(details).first).to_be_visible()


def test_every_page_and_report_fits_390_px_and_opens_details_by_focus_and_tap(served, browser, tmp_path):
    from playwright.sync_api import expect

    url, db = served
    titled = _post(url, {"title": LONG_TITLE, "text": EXAMPLE + "\nA copy with a headline of its own.\n"})
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=1)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    # the analyst's page
    page.goto(url + "/")
    _analyse(page, EXAMPLE)
    _fits(page, "/ with an analysis")
    _shot(page, tmp_path, "page")
    _details_by_focus_and_tap(page, "#article mark.s", "#tip")
    # a long title of its own: the heading is short, the whole title on hover
    page.goto(url + f"/#analysis-{titled['id']}")
    expect(page.locator("#title")).to_have_text(short_title(LONG_TITLE))
    assert page.locator("#title").get_attribute("title") == LONG_TITLE
    _fits(page, "/ with a long title")
    # history: short titles, one or two lines a row
    page.goto(url + "/#history")
    page.locator("#history a").first.wait_for()
    names = page.locator("#history a").all_inner_texts()
    assert short_title(LONG_TITLE) in names and all(len(n) <= 81 for n in names), names
    row = page.locator("#history tbody tr").first.bounding_box()
    assert row["height"] < 100, f"a history row is {row['height']} px high"
    _fits(page, "/#history")
    _shot(page, tmp_path, "history")
    # the corpus dashboard
    page.goto(url + "/dashboard")
    expect(page.locator("h1")).to_have_text("spinlens corpus report")
    _fits(page, "/dashboard")
    _shot(page, tmp_path, "dashboard")
    # one analysis as a page of the server
    page.goto(url + f"/analyses/{titled['id']}")
    expect(page.locator("h1")).to_have_text(short_title(LONG_TITLE))
    _fits(page, "/analyses/{id}")
    _shot(page, tmp_path, "analysis")
    _details_by_focus_and_tap(page, "article .s", "article .s:focus > .tip")
    _fits(page, "/analyses/{id} with a passage's details open")
    _shot(page, tmp_path, "analysis-details")
    # the standalone reports: the page's HTML export and `spinlens report`'s corpus report with its article pages
    report = tmp_path / "analysis.html"
    with urllib.request.urlopen(url + f"/api/analyses/{titled['id']}/report", timeout=60) as r:
        report.write_bytes(r.read())
    from spinlens.report.corpus import write_corpus_report
    from spinlens.store import Store

    corpus = write_corpus_report(Store(f"sqlite:///{db}"), tmp_path / "corpus.html")
    articles = sorted((tmp_path / "corpus-articles").glob("*.html"))
    assert articles, "the corpus report links to highlighted articles"
    for name, path in (("report", report), ("corpus-report", corpus), ("corpus-article", articles[0])):
        page.goto(path.as_uri())
        assert page.locator('meta[name="viewport"]').count() == 1, name
        _fits(page, name)
        _shot(page, tmp_path, name)
        if name != "corpus-report":
            _details_by_focus_and_tap(page, "article .s", "article .s:focus > .tip")
    assert problems == []
    context.close()


def test_nothing_found_is_unmistakable(served, browser, tmp_path):
    from playwright.sync_api import expect

    url, _ = served
    page = browser.new_page(viewport=PHONE)
    page.goto(url + "/")
    _analyse(page, NEUTRAL)
    box = page.locator("#nothing")
    expect(box).to_be_visible()
    expect(box.locator("h3")).to_have_text("No technique found")
    expect(box).to_contain_text("The model found no propaganda technique above its thresholds in these 12 words")
    assert box.bounding_box()["y"] < page.locator("#article").bounding_box()["y"], "said above the article"
    expect(page.locator("#summary")).to_have_text("No technique found in this text.")
    _fits(page, "/ with nothing found")
    _shot(page, tmp_path, "nothing-found")
    # a text with spans has no such box
    _analyse(page, EXAMPLE)
    expect(box).to_be_hidden()
    page.close()


def test_a_span_is_added_by_keyboard_alone(served, browser):
    """No mouse and no text selection: Tab to a passage, n starts a one-word span on it, the arrow keys move it,
    shift+arrow extends it, enter opens the techniques, space ticks one, enter saves: the store has the span."""
    from playwright.sync_api import expect

    url, db = served
    text = "They lie about the Kiev regime, as always. Only traitors doubt it, our brave leader says.\n"
    stored = _post(url, {"text": text})
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(url + f"/#analysis-{stored['id']}")
    first = page.locator("#article mark.s").first
    first.wait_for()
    first.focus()
    start = len(
        page.evaluate(
            "() => { const r = document.createRange(); r.selectNodeContents(document.getElementById('article')); r.setEndBefore(document.querySelector('#article mark.s')); return r.toString(); }"
        )
    )
    page.keyboard.press("n")
    draft = page.locator("#article mark.st-pending")
    expect(draft).to_have_count(1)
    word = re.match(r"[\w']+", text[start:]).group(0)
    expect(page.locator("#review-selected")).to_contain_text(f"New span: “{word}”")
    # move the one-word span to "our", then extend it over "brave leader"
    target = text.index("our brave")
    for _ in range(40):
        if "New span: “our”" in page.locator("#review-selected").inner_text():
            break
        page.keyboard.press("ArrowRight" if start < target else "ArrowLeft")
    else:
        raise AssertionError("the arrows never reach 'our'")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    expect(page.locator("#review-selected")).to_contain_text("New span: “our brave leader”")
    page.keyboard.press("Enter")
    expect(page.locator("#picker")).to_be_visible()
    for _ in range(20):  # Tab through the techniques to Flag-Waving, tick it with space
        if page.evaluate("() => document.activeElement.value") == "Flag-Waving":
            break
        page.keyboard.press("Tab")
    page.keyboard.press("Space")
    page.keyboard.press("Enter")
    expect(page.locator("#picker")).to_be_hidden()
    added = page.locator('#article mark[data-status*="added"]')  # (inside a model span: "model|added")
    expect(added).to_have_text("our brave leader")
    with urllib.request.urlopen(url + f"/api/analyses/{stored['id']}/corrections", timeout=30) as r:
        made = json.loads(r.read())["corrections"]
    assert [(c["kind"], c["start"], c["end"], c["techniques"]) for c in made] == [
        ("add", target, target + len("our brave leader"), ["Flag-Waving"])
    ]
    # esc drops a draft: nothing more is stored
    page.keyboard.press("n")
    expect(page.locator("#article mark.st-pending")).to_have_count(1)
    page.keyboard.press("Escape")
    expect(page.locator("#article mark.st-pending")).to_have_count(0)
    page.close()


def test_the_page_retries_after_retry_after(served, browser):
    """The server answers 503 with Retry-After: 1 (busy): the page counts down, asks again, and shows the analysis."""
    from playwright.sync_api import expect

    url, _ = served
    page = browser.new_page()
    refused: list[float] = []

    def busy_once(route):
        if route.request.method == "POST" and not refused:
            refused.append(time.monotonic())
            route.fulfill(
                status=503,
                headers={"Retry-After": "1", "Content-Type": "application/json"},
                body=json.dumps({"detail": "the server is busy (8 analyses in progress): try again in a moment"}),
            )
        else:
            route.continue_()

    page.route(url + "/api/analyze", busy_once)
    page.goto(url + "/")
    page.fill("#text", "The corrupt regime lies to its people, once more, for the retry test.")
    page.click("#go")
    expect(page.locator("#retry")).to_contain_text("trying again in 1 s")
    expect(page.locator("#score")).not_to_have_text("-", timeout=60_000)
    assert time.monotonic() - refused[0] >= 1.0, "it asked again before the second that Retry-After asked for"
    expect(page.locator("#retry")).to_have_text("")
    assert page.locator("#error").inner_text() == ""
    page.close()


def test_a_long_text_shows_an_estimate_and_cancel_stops_the_server(served, browser):
    from playwright.sync_api import expect

    url, _ = served

    def health() -> dict:
        with urllib.request.urlopen(url + "/healthz", timeout=30) as r:
            return json.loads(r.read())

    def n_stored() -> int:
        with urllib.request.urlopen(url + "/api/analyses?limit=500", timeout=30) as r:
            return len(json.loads(r.read()))

    before = n_stored()
    text = "".join(
        f"The corrupt regime lies to its people, day {i} of the cancel test, and its puppets cheer.\n"
        for i in range(1200)
    )  # ~100,000 characters: tens of seconds on 2 cores
    page = browser.new_page()
    page.goto(url + "/")
    page.fill("#text", text)
    page.click("#go")
    expect(page.locator("#progress")).to_be_visible()
    expect(page.locator("#progress-text")).to_contain_text(
        re.compile(r"Analysing 1\d\d,\d{3} characters: about \d+ s left")
    )
    deadline = time.monotonic() + 30
    while health()["analyses_pending"] == 0:
        assert time.monotonic() < deadline, "the analysis never started"
        time.sleep(0.1)
    page.click("#cancel")
    expect(page.locator("#error")).to_contain_text("Cancelled")
    expect(page.locator("#progress")).to_be_hidden()
    deadline = time.monotonic() + 15
    while health()["analyses_pending"]:
        assert time.monotonic() < deadline, "the server kept working on a cancelled analysis"
        time.sleep(0.2)
    assert n_stored() == before, "a cancelled analysis was stored"
    page.close()


def test_the_page_shortens_titles_as_the_server_does(served, browser):
    url, _ = served
    samples = [
        "Biden wants meeting with Putin to preserve Kiev regime",
        "Mr. Smith went to Washington and told the U.S. Senate nothing. At all, said the report.",
        "\ufeff\n\n  Is it true? Yes, it is, said the minister to the assembled press at noon today.",
        LONG_TITLE,
        "x" * 100 + " y",
        "A, b, c, " * 20,
        "🙂 " * 50,  # (a code point each, two UTF-16 units)
        "“They lie,” he said. Then he left the room without another word to anyone there.",
        "",
    ]
    page = browser.new_page()
    page.goto(url + "/")
    page.locator("#text").wait_for()
    assert page.evaluate("(xs) => xs.map(x => shortTitle(x))", samples) == [short_title(s) for s in samples]
    page.close()
