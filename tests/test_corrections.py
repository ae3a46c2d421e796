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


def test_the_store_keeps_corrections_beside_the_model_output(db_url):
    """SQLite and PostgreSQL: who/when/which model; the model's spans unchanged; bad corrections refused."""
    import spinlens
    from spinlens.corrections import CorrectionIn
    from spinlens.document import Analysis, Document, TechniqueVerdict
    from spinlens.store import Store

    store = Store(db_url)
    analysis = Analysis(
        document=Document(id="a", text=TEXT),
        spans=SPANS,
        techniques=[TechniqueVerdict(technique="Loaded_Language", present=True, probability=0.5)],
        propaganda_score=0.5,
        model="m",
        model_version="2",
    )
    aid = store.save(analysis)
    first = store.add_correction(aid, CorrectionIn(kind="relabel", span=1, techniques=["Doubt"]), author="alice")
    store.add_correction(aid, CorrectionIn(kind="add", start=32, end=41, techniques=["Repetition"]))
    assert (first.author, first.model, first.model_version, first.created.tzinfo is not None) == (
        "alice",
        "m",
        "2",
        True,
    )
    assert [c.kind for c in store.corrections(aid)] == ["relabel", "add"]
    assert [s.technique for s in store.get(aid).spans] == [s.technique for s in SPANS]  # never overwritten
    state = corrected_spans(TEXT, store.get(aid).spans, store.corrections(aid))
    assert [(TEXT[s.start : s.end], s.techniques) for s in state][1:] == [
        ("Kiev regime", ["Doubt"]),
        ("as always", ["Repetition"]),
    ]
    for bad, message in [
        (CorrectionIn(kind="accept", span=2), "there is no span 2"),
        (CorrectionIn(kind="add", start=0, end=999, techniques=["Doubt"]), "past the text"),
        (CorrectionIn(kind="reject", added=first.id), "is not a span added"),
    ]:
        with pytest.raises(spinlens.InputError, match=message):
            store.add_correction(aid, bad)
    with pytest.raises(spinlens.InputError, match="no analysis"):
        store.add_correction(aid + 100, CorrectionIn(kind="accept", span=0))
    from spinlens.review.tables import decided_ids

    assert decided_ids(store) == [aid]
    assert store.delete(aid) and store.corrections(aid) == []
