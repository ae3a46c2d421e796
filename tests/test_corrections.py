"""Corrections: the corrected state is a pure function of the model's spans and what people said about them."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from spinlens.corrections import Correction, CorrectionIn, corrected_spans, snap_to_words
from spinlens.document import Span

TEXT = "They lie about the Kiev regime, as always."
SPANS = [Span(start=5, end=8, technique="Loaded_Language"), Span(start=19, end=30, technique="Name_Calling,Labeling")]
T0 = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)


def _c(i: int, **kw) -> Correction:
    return Correction(
        id=i, analysis_id=1, model="m", model_version="2", author="local", created=T0 + dt.timedelta(seconds=i), **kw
    )


def _state(corrections):
    return [(TEXT[s.start : s.end], s.techniques, s.status) for s in corrected_spans(TEXT, SPANS, corrections)]


def test_unreviewed_spans_are_the_model_s():
    assert _state([]) == [("lie", ["Loaded_Language"], "model"), ("Kiev regime", ["Name_Calling,Labeling"], "model")]


def test_each_of_the_five_corrections_changes_the_state_as_named():
    assert _state([_c(1, kind="accept", span=0)])[0] == ("lie", ["Loaded_Language"], "accepted")
    assert [s[0] for s in _state([_c(1, kind="reject", span=0)])] == ["Kiev regime"]
    assert _state([_c(1, kind="relabel", span=1, techniques=["Doubt"])])[1][1] == ["Doubt"]
    assert _state([_c(1, kind="move", span=1, start=24, end=27)])[1] == ("regime", ["Name_Calling,Labeling"], "moved")
    added = _state([_c(1, kind="add", start=32, end=41, techniques=["Repetition"])])
    assert ("as always", ["Repetition"], "added") in added


def test_corrections_fold_in_order_and_a_later_one_undoes_a_reject():
    state = _state(
        [
            _c(1, kind="move", span=1, start=24, end=30),
            _c(2, kind="relabel", span=1, techniques=["Doubt"]),
            _c(3, kind="accept", span=1),
        ]
    )
    assert state[1] == ("regime", ["Doubt"], "moved, relabelled, accepted")
    assert len(_state([_c(1, kind="reject", span=0), _c(2, kind="accept", span=0)])) == 2
    # an added span is withdrawn by rejecting that addition
    assert (
        len(_state([_c(1, kind="add", start=32, end=41, techniques=["Repetition"]), _c(2, kind="reject", added=1)]))
        == 2
    )


def test_edges_snap_to_whole_words():
    assert snap_to_words(TEXT, 20, 27) == (19, 30)  # "iev regi" -> "Kiev regime"
    assert snap_to_words(TEXT, 8, 14) == (9, 14)  # leading space dropped
    with pytest.raises(ValueError):
        snap_to_words(TEXT, 8, 9)


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "relabel", "span": 1},
        {"kind": "add", "start": 5, "end": 5, "techniques": ["Doubt"]},
        {"kind": "add", "start": 5, "end": 8, "techniques": ["Not_A_Technique"]},
        {"kind": "reject"},
        {"kind": "move", "span": 0},
        {"kind": "accept", "span": -1},
        {"kind": "accept", "span": 0, "surprise": 1},
    ],
)
def test_incomplete_corrections_are_refused(bad):
    with pytest.raises(ValidationError):
        CorrectionIn.model_validate(bad)
