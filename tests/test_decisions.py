"""The pure decision functions: sentence units, Repetition, per-technique thresholds, verdicts from spans."""

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from spinlens.detect.decide import (
    Params,
    SpanDecision,
    candidate_spans,
    decide_article,
    label_spans,
    reported_spans,
)
from spinlens.detect.features import ArticleView
from spinlens.detect.model import TokenOutputs
from spinlens.detect.spans import QUOTES, trim_quotes
from spinlens.detect.units import sentence_units

TECHNIQUES = ["Loaded_Language", "Repetition", "Doubt"]

PARAGRAPH = 'Mr. Smith said the U.S. plan "failed." It failed again! Why? Because 3 officials lied.'


def test_units_split_sentences_but_not_abbreviations_or_initials():
    text = PARAGRAPH + "\nJ. Doe disagreed... Then he left."
    assert [text[a:b] for a, b in sentence_units(text)] == [
        'Mr. Smith said the U.S. plan "failed."',
        "It failed again!",
        "Why?",
        "Because 3 officials lied.",
        "J. Doe disagreed...",
        "Then he left.",
    ]


_sentence = st.text(alphabet=st.sampled_from(list("abcXYZ019 .!?'\"”(),-")), min_size=0, max_size=40).filter(
    lambda s: "\n" not in s
)


@settings(max_examples=300, deadline=None)
@given(before=st.lists(_sentence, max_size=4), after=st.lists(_sentence, max_size=4), separator=st.sampled_from(["\n", "\n\n", "\r\n"]))  # fmt: skip
def test_a_paragraph_has_the_same_units_alone_and_inside_any_page(before, after, separator):
    page = separator.join([*before, PARAGRAPH, *after])
    offset = page.index(PARAGRAPH, len(separator.join(before)))
    inside = [(a - offset, b - offset) for a, b in sentence_units(page) if offset <= a < offset + len(PARAGRAPH)]
    assert inside == sentence_units(PARAGRAPH)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_units_are_ordered_non_empty_and_trimmed(text):
    units = sentence_units(text)
    for a, b in units:
        assert 0 <= a < b <= len(text)
        assert not text[a].isspace() and not text[b - 1].isspace()
    assert all(b1 <= a2 for (_, b1), (a2, _) in zip(units, units[1:], strict=False))


def recurs_in(text: str, start: int, end: int) -> bool:
    """`ArticleView.recurs` needs only the text: no wordpieces here."""
    nothing = np.zeros((0, 2), np.int64)
    return ArticleView(text, nothing, np.zeros((0, 1)), np.zeros((0, 1)), nothing).recurs(start, end)


def test_repetition_only_for_a_phrase_that_recurs():
    text = "Build the wall. They will never build the wall. Crime is everywhere."
    assert recurs_in(text, 6, 14)  # "the wall" occurs twice
    crime = text.index("Crime")
    assert not recurs_in(text, crime, crime + len("Crime is everywhere"))
    assert recurs_in("Open borders kill. Border opening is not open borders.", 0, 12)
    assert recurs_in("The traitor lied. Traitors always lie.", 4, 11)  # a near variant: traitor / Traitors
    p = np.array([[0.2, 0.7, 0.1]])
    params = Params(second_technique=1.01)
    assert label_spans([(0, 5, 0.9)], p, [True], TECHNIQUES, params)[0].technique == "Repetition"
    alone = label_spans([(0, 5, 0.9)], p, [False], TECHNIQUES, params)
    assert [d.technique for d in alone] == ["Loaded_Language"]
    assert abs(alone[0].technique_confidence - 2 / 3) < 1e-6  # Repetition's share goes to the others


WORDS = st.sampled_from(["the", "wall", "walls", "a", "Traitor", "traitors", "élite", "x_1", "", "lied"])
GLUE = st.sampled_from([" ", "  ", ", ", ". ", "\n", "!", "'s ", "-", " \u00a0", "\u201c"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(WORDS, GLUE), max_size=25), st.data())
@example([("the", " "), ("the", " "), ("the", ".")], None).via("non-overlapping: 'the the' once in 'the the the'")
def test_phrase_counts_are_those_of_a_regex_search_between_word_boundaries(parts, data):
    """`ArticleView` counts phrases without scanning the text per span: the counts must be the regex search's."""
    import re

    from spinlens.detect.features import normalise, stems

    text = "".join(w + g for w, g in parts)
    if data is None:  # the explicit example: "the the"
        start, end = 0, 7
    else:
        start = data.draw(st.integers(0, len(text)))
        end = data.draw(st.integers(start, len(text)))
    nothing = np.zeros((0, 2), np.int64)
    view = ArticleView(text, nothing, np.zeros((0, 1)), np.zeros((0, 1)), nothing)

    def found(key: str, where: str) -> int:
        return len(re.findall(r"\b" + re.escape(key) + r"\b", where)) if key else 0

    key = normalise(text[start:end])
    assert view.recurrences(start, end) == found(key, normalise(text))
    again = found(key, normalise(text)) >= 2 or found(stems(key), stems(normalise(text))) >= 2
    assert view.recurs(start, end) == again


def test_per_technique_thresholds_drop_a_weak_technique_and_a_span_left_with_none():
    p = np.array([[0.6, 0.0, 0.4], [0.9, 0.0, 0.1]])
    params = Params(
        second_technique=0.3,
        span_calibration=(1.0, 0.0),
        technique_thresholds={"Loaded_Language": 0.5, "Doubt": 0.3, "Repetition": 0.0},
    )
    spans = [(0, 5, 0.9), (10, 20, 0.5)]  # span confidences 0.9 and 0.5 (identity calibration)
    decisions = label_spans(spans, p, [False, False], TECHNIQUES, params)
    # span 1: Loaded 0.9*0.6=0.54 kept, Doubt 0.9*0.4=0.36 kept; span 2: Loaded 0.5*0.9=0.45 < 0.5: dropped
    assert [(d.start, d.technique) for d in decisions] == [(0, "Loaded_Language"), (0, "Doubt")]
    assert decisions[0].score == decisions[0].span_confidence * decisions[0].technique_confidence


def _decision(start, technique, span_confidence, technique_confidence):
    return SpanDecision(start, start + 4, technique, span_confidence, technique_confidence, np.zeros(3), 0.5)


def test_a_verdict_needs_a_span_and_is_explained_by_its_spans():
    decisions = [_decision(0, "Doubt", 0.5, 0.8), _decision(10, "Doubt", 0.5, 0.5)]
    probs, present, overall = decide_article(decisions, TECHNIQUES)
    assert present == {"Loaded_Language": False, "Repetition": False, "Doubt": True}
    assert probs["Doubt"] == 1 - (1 - 0.4) * (1 - 0.25)  # noisy-or of the two spans' scores
    assert probs["Loaded_Language"] == 0.0 and overall == probs["Doubt"]
    probs, present, overall = decide_article([], TECHNIQUES)
    assert overall == 0.0 and not any(present.values()) and not any(probs.values())


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('ab "“”«» ')), min_size=1, max_size=12), st.data())
@example(text='"ab"', data=None)
def test_trimmed_spans_stay_inside_and_keep_quotation_marks_only_in_pairs(text, data):
    if data is None:
        assert trim_quotes(text, 0, 4) == (0, 4)  # a phrase quoted whole keeps both marks
        assert trim_quotes('x "ab" y', 3, 6) == (3, 5)  # the closing mark alone: left out
        return
    a = data.draw(st.integers(0, len(text)))
    b = data.draw(st.integers(a, len(text)))
    s, e = trim_quotes(text, a, b)
    assert a <= s <= e <= b
    cut_start, cut_end = text[a:s].strip(), text[e:b].strip()
    assert not (cut_start and cut_end) and len(cut_start + cut_end) <= 1 and set(cut_start + cut_end) <= set(QUOTES)
    if b - a >= 2 and text[a] in QUOTES and text[b - 1] in QUOTES:
        assert (s, e) == (a, b)
    if s < e:
        assert not text[s].isspace() and not text[e - 1].isspace()


def _tag_probs(offsets: list[tuple[int, int]], inside: list[int]) -> TokenOutputs:
    probs = np.zeros((len(offsets), 3), np.float32)
    probs[:, 0] = 1.0
    for i in inside:
        probs[i] = (0.05, 0.9 if i == inside[0] else 0.05, 0.05 if i == inside[0] else 0.9)
    return TokenOutputs(probs, np.zeros((len(offsets), 1), np.float32), np.zeros((len(offsets), 1), np.float32))


def _words(text: str) -> list[tuple[int, int]]:
    import re

    return [m.span() for m in re.finditer(r'\w[\w-]*|["“”]', text)]


def test_a_short_quotation_its_sentence_attributes_is_not_marked_unless_asked():
    """Wire copy quotes officials' words to report them: 'called the sanctions "absurd"' is the ministry's label,
    not the report's. The same word unquoted, a quotation nobody is said to have spoken, or a long quotation
    stays a candidate."""
    params = Params(span_threshold=0.5, span_accept=0.5)

    def spans(text: str, phrase: str, skip: bool) -> list[str]:
        offsets = _words(text)
        start = text.index(phrase)
        inside = [i for i, (a, b) in enumerate(offsets) if start <= a and b <= start + len(phrase)]
        out = _tag_probs(offsets, inside)
        starts = np.zeros(len(offsets), bool)
        starts[0] = True
        found = [(a, b) for a, b, _ in candidate_spans(text, np.asarray(offsets), out, params, starts)]
        reported = reported_spans(text, np.asarray(offsets), np.array([[0, len(offsets)]]), found)
        return [text[a:b] for (a, b), r in zip(found, reported, strict=True) if not (skip and r)]

    wire = 'The ministry called the new sanctions "absurd" on Monday.'
    assert spans(wire, 'absurd"', skip=False) == ["absurd"]  # the closing mark alone is trimmed
    assert spans(wire, 'absurd"', skip=True) == []
    assert spans('Zakharova referred to Kyiv as the "Kiev regime".', '"Kiev regime"', skip=True) == []
    assert spans("The absurd sanctions failed, the ministry said.", "absurd", skip=True) == ["absurd"]
    assert spans('These "sanctions" are a weapon of the "Kiev regime".', '"Kiev regime"', skip=True) == [
        '"Kiev regime"'
    ]  # scare quotes in the text's own voice: marked
    long_quote = 'He said that "the sanctions are an absurd and criminal act of war" today.'
    assert spans(long_quote, "absurd and criminal", skip=True) == ["absurd and criminal"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4)), min_size=1, max_size=30), st.data())
def test_wordpieces_of_a_span_are_those_a_scan_of_every_wordpiece_finds(pieces, data):
    """`ArticleView.wordpieces` tests only the stretch that can overlap a span; it must find what testing every
    wordpiece finds (zero-length and touching wordpieces included)."""
    offsets, at = [], 0
    for gap, length in pieces:
        offsets.append((at + gap, at + gap + length))
        at += gap + length
    offsets = np.asarray(offsets, dtype=np.int64)
    text = "x" * (at + 2)
    view = ArticleView(text, offsets, np.zeros((len(offsets), 2), np.float32), np.zeros((len(offsets), 1)), np.zeros((0, 2), np.int64))  # fmt: skip
    start = data.draw(st.integers(0, at + 1))
    end = data.draw(st.integers(start, at + 2))
    every = np.nonzero((offsets[:, 0] < end) & (offsets[:, 1] > start))[0]
    if len(every):
        assert view.wordpieces(start, end).tolist() == every.tolist()


def test_a_span_scorer_takes_each_confidence_from_the_spans_evidence_and_drops_the_unlikely():
    import pytest

    # one weight per evidence column, then the bias: confidence = sigmoid(2 * x0 - 1)
    params = Params(second_technique=1.01, span_scorer=[2.0, 0.0, -1.0], span_keep=0.5)
    spans = [(0, 5, 0.2), (10, 20, 0.9)]  # mean inside-probabilities that would rank the two the other way
    evidence = np.array([[2.0, 7.0], [0.0, 7.0]])
    p = np.array([[0.6, 0.0, 0.4], [0.6, 0.0, 0.4]])
    decisions = label_spans(spans, p, [False, False], TECHNIQUES, params, evidence=evidence)
    assert [d.start for d in decisions] == [0]  # the second: sigmoid(-1) = 0.27 < span_keep
    assert abs(decisions[0].span_confidence - 1 / (1 + np.exp(-3.0))) < 1e-6
    assert label_spans(spans, p, [False, False], TECHNIQUES, Params(second_technique=1.01), evidence=evidence)
    with pytest.raises(ValueError, match="evidence"):  # a model with a scorer never falls back silently
        label_spans(spans, p, [False, False], TECHNIQUES, params)


def test_span_evidence_reads_the_span_and_its_sentence_only():
    """The scorer's view of a span is the same whatever text stands around its sentence (issue 9)."""
    import re

    from spinlens.detect.features import span_evidence

    sentence = 'The "Kiev regime" lies again.'

    def evidence(before: str, after: str) -> np.ndarray:
        text = before + sentence + after
        offsets = np.array([(m.start(), m.end()) for m in re.finditer(r"\w+|\S", text)])
        units, first = [], 0
        for lo, hi in sentence_units(text):  # wordpiece ranges of the sentences
            n = int(((offsets[:, 0] >= lo) & (offsets[:, 1] <= hi)).sum())
            units.append((first, first + n))
            first += n
        tags = np.tile([0.2, 0.3, 0.5], (len(offsets), 1))
        techniques = np.tile([0.5, 0.2, 0.3], (len(offsets), 1))
        view = ArticleView(text, offsets, np.zeros((len(offsets), 2)), techniques, np.array(units))
        start = len(before) + sentence.index("Kiev")
        return span_evidence(view, tags, start, start + len("Kiev regime"), np.array([1.0, 0.0, -1.0]))

    page = evidence("A long first sentence stands here, with many words. ", " And more follows, much more.")
    assert np.allclose(evidence("", ""), page)
