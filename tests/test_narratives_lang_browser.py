"""The page (real headless Chromium): a Russian text says why it has no technique spans, and a stored analysis
shows its matched sentence outlined in the text, with the claim and a link to its debunk beside the spans."""

from __future__ import annotations

import pytest

from .test_browser import CHROMIUM, _serve  # noqa: F401 - CHROMIUM: the skip condition below
from .test_browser import pytestmark as browser_mark
from .test_narratives_lang import RUSSIAN, SALISBURY, _russian_analysis

pytestmark = browser_mark


@pytest.fixture(scope="module")
def served(tmp_path_factory):  # type: ignore[no-untyped-def]
    from .test_narratives_lang_e2e import write_catalogue

    db = tmp_path_factory.mktemp("db") / "spinlens.db"
    catalogue = write_catalogue(tmp_path_factory.mktemp("cat") / "claims.csv")
    srv, thread, url = _serve(db, catalogues=[str(catalogue)])
    yield url, f"sqlite:///{db}"
    srv.should_exit = True
    thread.join(10)


def test_pasted_russian_text_says_technique_spans_are_english_only(served, browser) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    url, _ = served
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(url + "/")
    page.fill("#text", RUSSIAN)
    page.click("#go")
    expect(page.locator("#notes p")).to_have_text(
        "technique spans are English-only; this text is Russian (ru): no technique analysis was run", timeout=60_000
    )
    expect(page.locator("#summary")).to_have_text(
        "technique spans not looked for: the text is Russian (ru); repeats 1 known claim"
    )
    expect(page.locator("#score")).to_have_text("-")
    assert "No technique found" not in page.locator("aside").inner_text()
    page.close()


def test_pasted_russian_text_shows_the_english_claim_it_repeats(served, browser) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    url, _ = served
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(url + "/")
    page.fill("#text", "Говорят одно. " + RUSSIAN)
    page.click("#go")
    item = page.locator("#narratives li")
    expect(item).to_have_count(1, timeout=60_000)
    expect(item.locator("q")).to_have_text(RUSSIAN[RUSSIAN.index("Британские") :])
    expect(item.locator("a")).to_have_attribute("href", SALISBURY)
    expect(page.locator("#article .nv")).to_have_text(RUSSIAN[RUSSIAN.index("Британские") :])
    page.close()


def test_stored_match_is_outlined_and_listed_with_its_claim_and_link(served, browser) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    from spinlens.store import Store

    url, db = served
    analysis = _russian_analysis()
    analysis_id = Store(db).save(analysis)
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(f"{url}/#analysis-{analysis_id}")
    item = page.locator("#narratives li")
    expect(item).to_have_count(1, timeout=60_000)
    expect(page.locator("#narratives-head")).to_be_visible()
    expect(item.locator("q")).to_have_text(RUSSIAN[analysis.narratives[0].start :])
    link = item.locator("a")
    expect(link).to_have_attribute("href", SALISBURY)
    expect(link).to_have_text(analysis.narratives[0].title)
    outlined = page.locator("#article .nv")
    expect(outlined).to_have_text(RUSSIAN[analysis.narratives[0].start :])
    assert outlined.get_attribute("title").startswith("repeats: Salisbury attack")
    page.close()
