import datetime as dt

import pytest
from pydantic import ValidationError

from spinlens import Analysis, Document, Span, TechniqueVerdict
from spinlens.formats import read_text

from .conftest import FIXTURES


def test_bom_is_character_zero_and_offsets_point_into_untouched_text():
    doc = read_text(FIXTURES / "article900000001.txt")
    assert doc.id == "900000001"
    assert doc.text[0] == "\ufeff"
    assert doc.text[36:47] == "Kiev regime"
    assert Span(start=36, end=47, technique="Name_Calling,Labeling").text_in(doc) == "Kiev regime"


def test_analysis_json_round_trip_is_lossless():
    doc = Document(
        id="a1",
        text="\ufeffLine one\r\n  indented\ttab é 🙂\n",
        title="T",
        source="Outlet",
        url="https://example.org/a",
        published=dt.date(2020, 5, 1),
        language="en",
        metadata={"k": [1, 2]},
    )
    analysis = Analysis(
        document=doc,
        spans=[Span(start=1, end=5, technique="Loaded_Language", score=0.75, note="why")],
        techniques=[TechniqueVerdict(technique="Loaded_Language", present=True, probability=0.9)],
        propaganda_score=0.9,
        model="m",
        model_version="1",
    )
    again = Analysis.from_json(analysis.to_json())
    assert again == analysis
    assert again.document.text == doc.text
    assert again.document.fingerprint == doc.fingerprint


def test_span_must_end_after_it_starts():
    with pytest.raises(ValidationError, match="greater than start"):
        Span(start=5, end=5, technique="Doubt")


def test_analysis_rejects_span_past_the_text():
    with pytest.raises(ValidationError, match="ends past the text"):
        Analysis(document=Document(id="x", text="abc"), spans=[Span(start=0, end=4, technique="Doubt")])
