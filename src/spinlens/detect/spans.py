"""From per-wordpiece tag probabilities to character spans."""

from __future__ import annotations

import numpy as np


def decode_spans(
    offsets: np.ndarray, tag_probs: np.ndarray, threshold: float, text: str | None = None, accept: float | None = None
) -> list[tuple[int, int, float]]:
    """Runs of wordpieces whose probability of being inside a span exceeds ``threshold``.

    Hysteresis: a run is kept only if one of its wordpieces reaches ``accept`` (default: ``threshold``), so that
    the extent of a span and the decision to report it have thresholds of their own. A wordpiece more likely to
    *begin* a span than to continue one starts a new span, and so does a new line of ``text``. When ``text`` is given, spans are widened to whole
    words (a wordpiece tagger sometimes stops inside a word) and runs with no letter or digit (a lone dash) are
    dropped. Each span's score is the mean inside-probability of its wordpieces.
    """
    accept = threshold if accept is None else accept
    inside = 1.0 - tag_probs[:, 0]
    spans: list[tuple[int, int, float]] = []
    run: list[int] = []

    def close() -> None:
        if run and inside[run].max() >= accept:
            a, b = int(offsets[run[0], 0]), int(offsets[run[-1], 1])
            if text is not None:
                a, b = _widen_to_words(text, a, b)
                if not any(c.isalnum() for c in text[a:b]):
                    b = a
            if b > a:
                spans.append((a, b, float(inside[run].mean())))
        run.clear()

    for i, p in enumerate(inside):
        if p > threshold:
            # a wordpiece more likely to begin a span starts a new one; so does a new line (PTC has one sentence
            # per line, and annotated spans rarely cross one)
            if run and (tag_probs[i, 1] > tag_probs[i, 2] or _line_break(text, offsets[run[-1], 1], offsets[i, 0])):
                close()
            run.append(i)
        else:
            close()
    close()
    return _merge_touching(spans)


def _line_break(text: str | None, end: int, start: int) -> bool:
    return text is not None and "\n" in text[end:start]


def _widen_to_words(text: str, start: int, end: int) -> tuple[int, int]:
    while start > 0 and text[start - 1].isalnum() and text[start].isalnum():
        start -= 1
    while end < len(text) and text[end].isalnum() and text[end - 1].isalnum():
        end += 1
    return start, end


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
