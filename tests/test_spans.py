import numpy as np

from spinlens.detect.decide import Params, candidate_spans
from spinlens.detect.model import TokenOutputs
from spinlens.detect.spans import decode_spans

TEXT = "The corrupt regime - lies again."
#       0123456789012345678901234567890
OFFSETS = np.array([[0, 3], [4, 8], [8, 11], [12, 18], [19, 20], [21, 25], [26, 31], [31, 32]])


def probs(inside, begin=None):
    inside = np.asarray(inside, float)
    begin = np.zeros_like(inside) if begin is None else np.asarray(begin, float)
    return np.stack([1 - inside, begin * inside, (1 - begin) * inside], 1)


def test_runs_are_widened_to_whole_words():
    # only the second wordpiece of "corrupt" (corr|upt) is inside: the span still covers the whole word
    spans = decode_spans(OFFSETS, probs([0, 0, 0.9, 0, 0, 0, 0, 0]), 0.5, TEXT)
    assert [(a, b) for a, b, _ in spans] == [(4, 11)]
    assert TEXT[4:11] == "corrupt"


def test_hysteresis_needs_one_confident_wordpiece():
    weak = probs([0, 0.4, 0.4, 0.4, 0, 0, 0, 0])
    assert decode_spans(OFFSETS, weak, 0.3, TEXT, accept=0.5) == []
    strong = probs([0, 0.4, 0.4, 0.7, 0, 0, 0, 0])
    assert [(a, b) for a, b, _ in decode_spans(OFFSETS, strong, 0.3, TEXT, accept=0.5)] == [(4, 18)]


def test_a_begin_tag_splits_and_punctuation_alone_is_dropped():
    p = probs([0, 0.9, 0.9, 0.9, 0.9, 0.9, 0, 0], begin=[0, 1, 0, 0, 0, 1, 0, 0])
    spans = [(a, b) for a, b, _ in decode_spans(OFFSETS, p, 0.5, TEXT)]
    assert spans == [(4, 20), (21, 25)]
    only_dash = probs([0, 0, 0, 0, 0.9, 0, 0, 0])
    assert decode_spans(OFFSETS, only_dash, 0.5, TEXT) == []


def test_a_span_never_ends_inside_a_word_with_an_apostrophe():
    text = "look at their own party's record"
    offsets = np.array([[0, 4], [5, 7], [8, 13], [14, 17], [18, 23], [23, 24], [24, 25], [26, 32]])
    # the tagger stops after the apostrophe of "party's": the span still takes the whole word
    spans = decode_spans(offsets, probs([0, 0, 0.9, 0.9, 0.9, 0.9, 0, 0]), 0.5, text)
    assert [text[a:b] for a, b, _ in spans] == ["their own party's"]


def test_a_run_of_function_words_alone_is_not_a_span():
    text = "That is the way things are."
    offsets = np.array([[0, 4], [5, 7], [8, 11], [12, 15], [16, 22], [23, 26], [26, 27]])
    assert decode_spans(offsets, probs([0.9, 0, 0, 0, 0, 0, 0]), 0.5, text) == []  # "That"
    assert decode_spans(offsets, probs([0.9, 0.9, 0.9, 0, 0, 0, 0]), 0.5, text) == []  # "That is the"
    kept = decode_spans(offsets, probs([0, 0, 0.9, 0.9, 0, 0, 0]), 0.5, text)
    assert [text[a:b] for a, b, _ in kept] == ["the way"]


def test_a_span_never_runs_across_a_sentence_unit():
    text = "They lie. Liars all."
    offsets = np.array([[0, 4], [5, 8], [8, 9], [10, 15], [16, 19], [19, 20]])
    inside = probs([0, 0.9, 0.9, 0.9, 0.9, 0])
    starts = np.array([True, False, False, True, False, False])
    assert [text[a:b] for a, b, _ in decode_spans(offsets, inside, 0.5, text)] == ["lie. Liars all"]
    assert [text[a:b] for a, b, _ in decode_spans(offsets, inside, 0.5, text, unit_starts=starts)] == [
        "lie.",
        "Liars all",
    ]


def test_thresholds_are_fixed_not_relative_to_the_article():
    # the same wordpieces give the same spans whatever else the article holds: no per-article rescaling
    params = Params(span_threshold=0.35, span_accept=0.5)
    low = TokenOutputs(probs([0, 0.3, 0.3, 0.05, 0, 0, 0, 0]), np.zeros((8, 14)), np.zeros((8, 4)))
    assert candidate_spans(TEXT, OFFSETS, low, params) == []
    strong = TokenOutputs(probs([0, 0.6, 0.6, 0.05, 0, 0, 0, 0]), np.zeros((8, 14)), np.zeros((8, 4)))
    assert [(a, b) for a, b, _ in candidate_spans(TEXT, OFFSETS, strong, params)] == [(4, 11)]


def test_surface_features_see_what_the_uncased_encoder_cannot() -> None:
    import numpy as np

    from spinlens.detect.surface import surface_features, tagger_inputs

    text = 'He said "the KIEV regime" is done! Is it?\n“New” line.'
    words = [(m.start(), m.end()) for m in __import__("re").finditer(r"\w+|[^\w\s]", text)]
    offsets = np.array(words)
    rows = {text[a:b] + f"@{a}": r for (a, b), r in zip(words, surface_features(text, offsets), strict=True)}
    capital, caps, quoted, punct, bang, question, starts = range(7)
    assert rows["He@0"][capital] and rows["He@0"][starts] and not rows["said@3"].any()
    assert rows["KIEV@13"][caps] and rows["KIEV@13"][quoted] and rows["regime@18"][quoted]
    assert not rows["is@26"][quoted]  # the quote closed
    assert rows["!@33"][bang] and rows["!@33"][punct] and rows["?@40"][question]
    assert rows["Is@35"][starts] and rows["New@43"][quoted] and not rows["line@48"][quoted]
    vectors = np.ones((len(words), 4), np.float32)
    assert tagger_inputs(text, offsets, vectors, surface=False) is vectors
    assert tagger_inputs(text, offsets, vectors, surface=True).shape == (len(words), 11)
