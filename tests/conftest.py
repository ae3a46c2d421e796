from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"


def shared_data() -> Path:
    return Path(os.environ.get("SPINLENS_DATA", REPO.parent / "shared" / "data"))


PTC = shared_data() / "ptc-semeval2020-task11" / "datasets"
SEMEVAL2021 = shared_data() / "semeval2021-task6" / "data"

needs_ptc = pytest.mark.skipif(
    not (PTC / "train-articles").is_dir(),
    reason=f"PTC train data not found at {PTC} (set SPINLENS_DATA to the folder holding ptc-semeval2020-task11)",
)
needs_semeval2021 = pytest.mark.skipif(
    not SEMEVAL2021.is_dir(), reason=f"SemEval-2021 Task 6 data not found at {SEMEVAL2021} (set SPINLENS_DATA)"
)


POSTGRES = os.environ.get("SPINLENS_TEST_POSTGRES")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path: Path) -> str:
    """A fresh, empty database: a SQLite file, and the PostgreSQL server that `.ci/postgres.sh` starts."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'spinlens.db'}"
    if not POSTGRES:
        if os.environ.get("SPINLENS_REQUIRE_POSTGRES") == "1":
            pytest.fail("SPINLENS_REQUIRE_POSTGRES=1 but SPINLENS_TEST_POSTGRES is not set")
        pytest.skip('no PostgreSQL server: run eval "$(bash .ci/postgres.sh)" to start one')
    from sqlalchemy import create_engine

    from spinlens.store.schema import Base

    engine = create_engine(POSTGRES)
    Base.metadata.drop_all(engine)
    engine.dispose()
    return POSTGRES


def short_text_quality(nlp) -> dict[str, int]:
    """A tier on our own short texts (tests/fixtures/short_texts.jsonl, 101 with a named technique on a named
    phrase, 54 neutral): how often the technique is named on its phrase (given the span: the TC task), how often
    a span of it is found over the phrase, and how many spans the neutral texts get."""
    import json

    items = [json.loads(line) for line in (FIXTURES / "short_texts.jsonl").read_text().splitlines()]
    named = [it for it in items if it.get("phrase")]
    bounds = [(it["text"].index(it["phrase"]), it["text"].index(it["phrase"]) + len(it["phrase"])) for it in named]
    labelled = sum(nlp.label_spans(it["text"], [b])[0] == it["technique"] for it, b in zip(named, bounds, strict=True))
    found = sum(
        any(sp.technique == it["technique"] and sp.start < e and sp.end > s for sp in a.spans)
        for it, (s, e), a in zip(named, bounds, nlp.pipe([it["text"] for it in named]), strict=True)
    )
    neutral = sum(len(a.spans) for a in nlp.pipe([it["text"] for it in items if not it.get("phrase")]))
    return {"named": len(named), "labelled": labelled, "found": found, "neutral_spans": neutral}


def assert_same_spans_in_any_context(nlp, paragraph: str) -> None:  # type: ignore[no-untyped-def]
    """A paragraph gets the same spans (offsets, techniques) alone, inside a page, inside a feed and between two
    neutral sentences: every tier is held to it, whatever else is encoded (batched) beside the paragraph."""
    neutral = (FIXTURES / "article900000002.txt").read_text(encoding="utf-8")
    contexts = {
        "page": neutral + "\n\n" + paragraph + "\n\n" + neutral,
        "feed": "Weather: rain at noon.\n" + paragraph + "\nSport: the match ended 2-1.",
        "same page, one newline": neutral.strip() + "\n" + paragraph + "\n" + neutral.strip(),
        "between two sentences": "The committee met on Tuesday to review the budget for the coming year.\n\n"
        + paragraph
        + "\n\nThe weather was mild, and the trains ran on time.\n",
    }
    alone = {(s.start, s.end, s.technique) for s in nlp(paragraph).spans}
    assert alone, "the paragraph has spans"
    for name, page in contexts.items():
        shift = page.index(paragraph)
        inside = {
            (s.start - shift, s.end - shift, s.technique)
            for s in nlp(page).spans
            if shift <= s.start < shift + len(paragraph)
        }
        assert inside == alone, f"the paragraph's spans changed {name}"


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    """Debian's Chromium driven by Playwright (tests/test_browser.py says which, with which arguments)."""
    from playwright.sync_api import sync_playwright

    from .test_browser import ARGS, CHROMIUM

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def analyses_in(engine) -> int:  # type: ignore[no-untyped-def]
    """How many analyses a database holds now, read while a run writes to it (0 before its tables exist)."""
    from sqlalchemy import func, select

    from spinlens.store.schema import AnalysisRow

    try:
        with engine.connect() as c:
            return c.scalar(select(func.count()).select_from(AnalysisRow)) or 0
    except Exception:  # noqa: BLE001 - the tables may not exist yet
        return 0
