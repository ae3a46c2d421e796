"""Correcting spans through the page, in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright):
each of the five corrections is made on the page (by keyboard or button) and then read back from the store."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from .test_browser import CHROMIUM, EXAMPLE, _analyse, _serve

pytestmark = pytest.mark.skipif(
    not __import__("os").path.exists(CHROMIUM), reason="Chromium not installed (apt-get install chromium)"
)

# untrusted text: the page must show it as text, never run it
TEXT = (
    "They lie about the Kiev regime, as always. Only traitors doubt it. "
    'The shameful cowardly elites fled. <img src=x onerror="alert(1)">\n'
)
SPANS = [  # (start, end, technique): the model's spans, indexes 0-3 in the store
    (5, 8, "Loaded_Language"),  # "lie"
    (19, 30, "Name_Calling,Labeling"),  # "Kiev regime"
    (48, 56, "Name_Calling,Labeling"),  # "traitors"
    (71, 79, "Loaded_Language"),  # "shameful"
]


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[str, str]]:
    db_url = f"sqlite:///{tmp_path_factory.mktemp('corrections') / 'spinlens.db'}"
    srv, thread, url = _serve(db_url.removeprefix("sqlite:///"))
    yield url, db_url
    srv.should_exit = True
    thread.join(10)


def _seed(db_url: str, name: str) -> int:
    """A new stored analysis of `TEXT` with the spans of `SPANS`, as if the model had made it (``name`` makes it
    another document: the same text would be the same analysis)."""
    from spinlens.document import Analysis, Document, Span, TechniqueVerdict
    from spinlens.store import Store

    assert [TEXT[s:e] for s, e, _ in SPANS] == ["lie", "Kiev regime", "traitors", "shameful"]
    spans = [
        Span(start=s, end=e, technique=t, score=0.7, span_confidence=0.8, technique_confidence=0.9) for s, e, t in SPANS
    ]
    verdicts = [TechniqueVerdict(technique="Loaded_Language", present=True, probability=0.7)]
    analysis = Analysis(
        document=Document(id=name, text=TEXT + name), spans=spans, techniques=verdicts, propaganda_score=0.7
    )
    return Store(db_url).save(analysis)


def _stored(db_url: str, analysis_id: int) -> list[tuple]:
    from spinlens.store import Store

    return [
        (c.kind.value, c.span, c.added, c.start, c.end, c.techniques, c.author)
        for c in Store(db_url).corrections(analysis_id)
    ]


def _span(page, key: str):
    """The (first) highlighted passage of a span: ``m<index>`` for a model span, ``a<id>`` for an added one."""
    return page.locator(f'#article mark[data-keys~="{key}"]').first


def _select_text(page, start: int, end: int) -> None:
    """Select characters [start, end) of the article, as a person dragging over them would."""
    page.evaluate(
        """([start, end]) => {
          const box = document.getElementById("article"), range = document.createRange();
          let seen = 0;
          const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
          for (let n = walker.nextNode(); n; n = walker.nextNode()) {
            const len = n.data.length;
            if (seen <= start && start <= seen + len) range.setStart(n, start - seen);
            if (seen <= end && end <= seen + len) { range.setEnd(n, end - seen); break; }
            seen += len;
          }
          getSelection().removeAllRanges(); getSelection().addRange(range);
        }""",
        [start, end],
    )


def _pick(page, *names: str, off: tuple[str, ...] = ()) -> None:
    """Tick techniques in the picker by their display names (and untick ``off``), then save."""
    from playwright.sync_api import expect

    picker = page.locator("#picker")
    expect(picker).to_be_visible()
    for name in names:
        picker.get_by_label(name, exact=True).check()
    for name in off:
        picker.get_by_label(name, exact=True).uncheck()
    page.click("#picker-ok")
    expect(picker).to_be_hidden()


def test_all_five_corrections_through_the_page_are_stored(served, browser):
    """Accept, reject, relabel and move by keyboard, add by selecting text: the store holds each, the page shows
    the corrected state with each span marked, and "Model output" still shows what the model said."""
    from playwright.sync_api import expect

    url, db_url = served
    aid = _seed(db_url, "five ways")
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    problems: list[str] = []
    page.on("dialog", lambda d: (problems.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(url + f"/#analysis-{aid}")  # re-opened from the history
    expect(_span(page, "m0")).to_have_text("lie")
    assert page.locator("#article").inner_text().replace("\r", "") == TEXT + "five ways"
    # accept: focus the passage (as Tab does), press a
    _span(page, "m0").focus()
    page.keyboard.press("a")
    expect(_span(page, "m0")).to_have_attribute("data-status", "accepted")
    expect(_span(page, "m0")).to_have_class(re.compile(r"\bst-accepted\b"))
    assert "[accepted]" in _span(page, "m0").get_attribute("aria-label")
    # reject: r; the rejected span stays visible, struck through, until "Show rejected" is unticked
    _span(page, "m2").focus()
    page.keyboard.press("r")
    expect(_span(page, "m2")).to_have_attribute("data-status", "rejected")
    expect(_span(page, "m2")).to_have_css("text-decoration-line", "line-through")
    page.uncheck("#show-rejected")
    expect(page.locator('#article mark[data-keys~="m2"]')).to_have_count(0)
    page.check("#show-rejected")
    # relabel: t, then two techniques by their display names
    _span(page, "m1").focus()
    page.keyboard.press("t")
    _pick(page, "Doubt", "Exaggeration / Minimisation", off=("Name Calling / Labeling",))
    expect(_span(page, "m1")).to_have_attribute("data-techniques", "Doubt|Exaggeration,Minimisation")
    expect(_span(page, "m1")).to_have_attribute("data-status", "relabelled")
    # move: e, then shift+right arrow grows the end by a word, enter saves
    _span(page, "m3").focus()
    page.keyboard.press("e")
    expect(page.locator("#edges")).to_be_visible()
    page.keyboard.press("Shift+ArrowRight")
    expect(page.locator("#review-selected")).to_contain_text("“shameful cowardly”")
    page.keyboard.press("Enter")
    expect(_span(page, "m3")).to_have_attribute("data-status", "moved")
    expect(_span(page, "m3")).to_have_text("shameful cowardly")
    # add: select the missed passage, press n, choose its technique
    start = TEXT.index("as always")
    _select_text(page, start + 1, start + 7)  # "s alwa": snapped to whole words by the server
    expect(page.locator("#add")).to_be_visible()
    page.keyboard.press("n")
    _pick(page, "Repetition")
    added = page.locator('#article mark[data-status="added"]')
    expect(added).to_have_text("as always")
    expect(added).to_have_class(re.compile(r"\bst-added\b"))

    stored = _stored(db_url, aid)
    assert stored == [
        ("accept", 0, None, None, None, [], "local"),
        ("reject", 2, None, None, None, [], "local"),
        ("relabel", 1, None, None, None, ["Doubt", "Exaggeration,Minimisation"], "local"),
        ("move", 3, None, 71, 88, [], "local"),
        ("add", None, None, start + 1, start + 7, ["Repetition"], "local"),
    ]
    # the model's own output, on request
    page.check("#view-model")
    expect(_span(page, "m1")).to_have_attribute("data-techniques", "Name_Calling,Labeling")
    expect(_span(page, "m2")).to_have_attribute("data-status", "model")
    expect(page.locator('#article mark[data-status="added"]')).to_have_count(0)
    page.check("#view-corrected")
    expect(page.locator('#article mark[data-status="added"]')).to_have_count(1)
    # a reload shows the corrected state, from the server
    page.reload()
    expect(_span(page, "m3")).to_have_text("shameful cowardly")
    assert page.locator("#article img").count() == 0 and problems == []
    page.close()


def _uncovered_word(text: str, after: int) -> tuple[int, int]:
    """The first whole word at or after ``after`` that none of the default model's spans touches."""
    import spinlens

    spans = spinlens.load()(text).spans
    for m in re.finditer(r"[A-Za-z]{3,}", text[after:]):
        a, b = after + m.start(), after + m.end()
        if not any(s.start < b and a < s.end for s in spans):
            return a, b
    raise AssertionError("every word is inside a model span")


def test_an_added_span_is_withdrawn_and_a_fresh_analysis_is_corrected_with_buttons(served, browser):
    """On an article analysed just now: the buttons accept a span and add one, which a relabel replaces and a reject
    withdraws."""
    from playwright.sync_api import expect

    url, db_url = served
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(url + "/")
    _analyse(page, EXAMPLE)
    aid = int(page.url.rsplit("-", 1)[1])
    first = page.locator("#article mark.s").first
    first.click()
    key = first.get_attribute("data-keys").split()[0]
    page.click("#accept")
    expect(_span(page, key)).to_have_attribute("data-status", re.compile("accepted"))
    start, end = _uncovered_word(EXAMPLE, 200)  # a word no model span covers: the added span stands alone
    _select_text(page, start, end)
    page.click("#add")
    _pick(page, "Bandwagon / Reductio ad hitlerum")
    added = page.locator('#article mark[data-status="added"]')
    expect(added).to_have_attribute("data-techniques", "Bandwagon,Reductio_ad_hitlerum")
    # relabelling an added span withdraws it and adds it again with the new technique
    added.focus()
    page.click("#relabel")
    _pick(page, "Slogans", off=("Bandwagon / Reductio ad hitlerum",))
    expect(added).to_have_attribute("data-techniques", "Slogans")
    added.focus()
    page.click("#reject")
    expect(added).to_have_count(0)
    kinds = [(c[0], c[1] is None, c[2] is not None) for c in _stored(db_url, aid)]
    withdrawn, readded = ("reject", True, True), ("add", True, False)
    assert kinds == [("accept", False, False), readded, withdrawn, readded, withdrawn]
    page.close()


def test_the_correction_controls_are_reachable_at_390_px(served, browser):
    """On a phone-sized screen a tap selects a span and every correction button is on screen and works."""
    from playwright.sync_api import expect

    url, db_url = served
    aid = _seed(db_url, "phone")
    page = browser.new_page(viewport={"width": 390, "height": 844}, has_touch=True)
    page.goto(url + f"/#analysis-{aid}")
    _span(page, "m1").tap()
    expect(page.locator("#review-selected")).to_contain_text("Kiev regime")
    for button in ("#accept", "#reject", "#relabel", "#move"):
        expect(page.locator(button)).to_be_enabled()
        box = page.locator(button).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, (button, box)
        assert 0 <= box["y"] <= 844 - box["height"], (button, box)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390, "nothing wider than the screen"
    page.locator("#relabel").tap()
    ok = page.locator("#picker-ok").bounding_box()
    assert ok and ok["x"] + ok["width"] <= 390 and ok["y"] + ok["height"] <= 844
    _pick(page, "Flag-Waving")
    page.locator("#move").tap()
    expect(page.locator("#end-grow")).to_be_in_viewport()
    page.locator("#end-grow").tap()
    page.locator("#edges-save").tap()
    expect(_span(page, "m1")).to_have_text("Kiev regime, as")
    assert [c[0] for c in _stored(db_url, aid)] == ["relabel", "move"]
    page.close()


def test_the_sidebar_shows_the_corrected_state_marked_as_corrected(served, browser):
    """After corrections the summary, the score and "nothing found" are the corrected state's, marked "corrected"
    with the model's own score beside it; "Model output" shows the model's again."""
    from playwright.sync_api import expect

    url, db_url = served
    aid = _seed(db_url, "sidebar")
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(url + f"/#analysis-{aid}")
    expect(page.locator("#score")).to_have_text("70%")
    expect(page.locator("#score-model")).to_have_text("")
    expect(page.locator("#nothing")).to_be_hidden()
    for i in range(4):  # reject every span
        _span(page, f"m{i}").focus()
        page.keyboard.press("r")
        expect(_span(page, f"m{i}")).to_have_attribute("data-status", "rejected")
    expect(page.locator("#score")).to_have_text("0%")
    expect(page.locator("#score-model")).to_have_text("corrected (model: 70%)")
    expect(page.locator("#summary")).to_have_text("No technique found in this text.")
    expect(page.locator("#nothing")).to_be_visible()
    expect(page.locator("#nothing-why")).to_contain_text("Reviewers rejected every span the model found")
    expect(page.locator("#corrected-note")).to_contain_text("Corrected by local: 4 rejected")
    # one accepted again: a person confirmed it, so the technique is there for sure
    _span(page, "m0").focus()
    page.keyboard.press("a")
    expect(page.locator("#score")).to_have_text("100%")
    expect(page.locator("#summary")).to_have_text("1 passage with 1 technique: Loaded Language")
    expect(page.locator("#nothing")).to_be_hidden()
    # the model's own output, on request
    page.check("#view-model")
    expect(page.locator("#score")).to_have_text("70%")
    expect(page.locator("#score-model")).to_have_text("")
    expect(page.locator("#nothing")).to_be_hidden()
    page.close()


def test_the_exports_and_review_complete_show_the_corrected_state(served, browser):
    """Export JSON and Export HTML report, after corrections on the page, carry the corrected state marked as
    corrected and the model's own beside it; "Review complete" marks the review, and takes the mark back."""
    import json
    from pathlib import Path

    from playwright.sync_api import expect

    url, db_url = served
    aid = _seed(db_url, "exports")
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(url + f"/#analysis-{aid}")
    _span(page, "m2").focus()
    page.keyboard.press("r")  # "traitors" rejected
    expect(_span(page, "m2")).to_have_attribute("data-status", "rejected")
    _span(page, "m0").focus()
    page.keyboard.press("a")  # "lie" accepted
    expect(_span(page, "m0")).to_have_attribute("data-status", "accepted")
    with page.expect_download() as download:
        page.click("#export-json")
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert exported["corrected"] is True and exported["model_propaganda_score"] == 0.7
    assert exported["propaganda_score"] == 1.0  # a person confirmed "lie"
    assert [s["text"] for s in exported["spans"]] == ["lie", "Kiev regime", "shameful"]
    assert [s["text"] for s in exported["model_spans"]] == ["lie", "Kiev regime", "traitors", "shameful"]
    assert [(s["text"], (s["review"] or {}).get("status")) for s in exported["spans"]][0] == ("lie", "accepted")
    with page.expect_download() as download:
        page.click("#export-html")
    report = Path(download.value.path()).read_text(encoding="utf-8")
    assert "corrected by local: 1 accepted, 1 rejected, 2 not reviewed" in report
    assert "Rejected by people" in report and "&ldquo;traitors&rdquo;" in report
    # review complete, from the page, then taken back
    done = page.locator("#complete")
    expect(done).to_have_text("Review complete")
    done.click()
    expect(page.locator("#complete-state")).to_contain_text("Review complete: marked by local")
    expect(done).to_have_text("Reopen the review")
    with page.expect_download() as download:
        page.click("#export-json")
    assert json.loads(Path(download.value.path()).read_text(encoding="utf-8"))["review"]["complete"] is True
    done.click()
    expect(done).to_have_text("Review complete")
    import urllib.request

    with urllib.request.urlopen(url + f"/api/analyses/{aid}/corrections", timeout=30) as r:
        assert json.loads(r.read())["review_complete"] is None
    page.close()
