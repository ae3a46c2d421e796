"""From per-wordpiece tag probabilities to character spans."""

from __future__ import annotations

import re

import numpy as np


def decode_spans(
    offsets: np.ndarray,
    tag_probs: np.ndarray,
    threshold: float,
    text: str | None = None,
    accept: float | None = None,
    unit_starts: np.ndarray | None = None,
) -> list[tuple[int, int, float]]:
    """Runs of wordpieces whose probability of being inside a span exceeds ``threshold``.

    Hysteresis: a run is kept only if one of its wordpieces reaches ``accept`` (default: ``threshold``), so that
    the extent of a span and the decision to report it have thresholds of their own. A wordpiece more likely to
    *begin* a span than to continue one starts a new span, and so does a new sentence unit (``unit_starts``) or a
    new line of ``text``. When ``text`` is given, spans are widened to whole words (a wordpiece tagger sometimes
    stops inside a word; "party's" is one word), and runs with no letter or digit (a lone dash) or with nothing but
    function words ("That", "the") are dropped. Each span's score is the mean inside-probability of its wordpieces.
    """
    accept = threshold if accept is None else accept
    inside = 1.0 - tag_probs[:, 0]
    spans: list[tuple[int, int, float]] = []
    run: list[int] = []

    def close() -> None:
        if run and inside[run].max() >= accept:
            a, b = int(offsets[run[0], 0]), int(offsets[run[-1], 1])
            if text is not None:
                a, b = widen_to_words(text, a, b)
                if not any(c.isalnum() for c in text[a:b]) or only_function_words(text[a:b]):
                    b = a
            if b > a:
                spans.append((a, b, float(inside[run].mean())))
        run.clear()

    for i, p in enumerate(inside):
        if p > threshold:
            # a wordpiece more likely to begin a span starts a new one; so does a new line (PTC has one sentence
            # per line, and annotated spans rarely cross one)
            new_unit = unit_starts is not None and unit_starts[i]
            if run and (
                new_unit or tag_probs[i, 1] > tag_probs[i, 2] or _line_break(text, offsets[run[-1], 1], offsets[i, 0])
            ):
                close()
            run.append(i)
        else:
            close()
    close()
    return _merge_touching(spans)


def _line_break(text: str | None, end: int, start: int) -> bool:
    return text is not None and "\n" in text[end:start]


def _in_word(text: str, i: int) -> bool:
    """Character ``i`` belongs to a word: a letter or digit, or an apostrophe between two of them ("party's")."""
    if i < 0 or i >= len(text):
        return False
    if text[i].isalnum():
        return True
    return text[i] in _APOSTROPHES and 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()


def widen_to_words(text: str, start: int, end: int) -> tuple[int, int]:
    while start > 0 and _in_word(text, start - 1) and _in_word(text, start):
        start -= 1
    while end < len(text) and _in_word(text, end) and _in_word(text, end - 1):
        end += 1
    return start, end


_APOSTROPHES = "'’"
# Words that carry no technique on their own: a span made of these alone is an artefact of the tagger.
_FUNCTION_WORDS_TEXT = (
    "a an the this that these those it its it's that's there there's here he she they we i you me him "
    "her them us his hers their theirs our ours my your yours who whom whose which what when where why "
    "how as at by for from in into of off on onto out over to up with and or but nor so yet if then than "
    "too very just also not no is are was were be been being am do does did has have had will would "
    "shall should can could may might must one some any all each every both either neither such own same "
    "other another more most "
)
FUNCTION_WORDS = frozenset(_FUNCTION_WORDS_TEXT.split())


def only_function_words(fragment: str) -> bool:
    words = [w.strip("'’").lower() for w in re.findall(r"[\w'’]+", fragment)]
    return all(w in FUNCTION_WORDS or not w for w in words)


def _merge_touching(spans: list[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    """Widening can make neighbours overlap; merge those, keeping the higher score."""
    out: list[tuple[int, int, float]] = []
    for a, b, s in sorted(spans):
        if out and a < out[-1][1]:
            pa, pb, ps = out[-1]
            out[-1] = (pa, max(pb, b), max(ps, s))
        else:
            out.append((a, b, s))
    return out
