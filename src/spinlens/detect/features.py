"""Features of a candidate span for the technique classifier.

Vectors: the span's wordpieces (mean and max), its sentence unit (mean; `detect.units`), and the tagger's own
per-technique probabilities over the span. Cheap features that the literature found useful: length, how often the
span's words recur in the text (Repetition is a tenth of the labels), capitals, quotes, exclamation and question
marks, how much of the sentence it covers. Nothing says where the span stands in the document (its position, or
whether it is on the first line): an answer must not depend on what surrounds the text (issue 9), and titles are
text like any other.
"""

from __future__ import annotations

import re
from functools import cached_property

import numpy as np

from spinlens.detect.encoder import unit_chars
from spinlens.detect.spans import QUOTES

_NON_WORD = re.compile(r"\W+")


def normalise(text: str) -> str:
    return _NON_WORD.sub(" ", text.lower()).strip()


_ENDING = re.compile(r"(?:'s|s|es|ed|ing|ly)$")


def stems(words: str) -> str:
    """Normalised words without their common endings, so that near variants match ("traitor" / "traitors")."""
    return " ".join(_ENDING.sub("", w) if len(w) > 4 else w for w in words.split())


class ArticleView:
    """What the span features need of one article, computed once per article."""

    def __init__(
        self, text: str, offsets: np.ndarray, vectors: np.ndarray, token_probs: np.ndarray, units: np.ndarray
    ) -> None:
        self.text = text
        self.offsets = offsets
        # character ranges of the sentence units (from their first and last wordpieces)
        self.unit_chars = unit_chars(offsets, units)
        self.vectors = vectors
        self.token_probs = token_probs  # (n, n_techniques) from the fine-tuned head
        self.normalised = normalise(text)
        self._means: dict[tuple[int, int], np.ndarray] = {}

    @cached_property
    def _ends_so_far(self) -> np.ndarray | None:
        """The largest wordpiece end up to each wordpiece (no wordpiece before ``searchsorted(.., start)`` reaches
        past ``start``); None when the wordpieces' starts are out of order (never seen: the whole text is tested)."""
        starts = self.offsets[:, 0]
        if len(starts) == 0 or np.any(np.diff(starts) < 0):
            return None
        return np.maximum.accumulate(self.offsets[:, 1])

    def wordpieces(self, start: int, end: int) -> np.ndarray:
        """The wordpieces that overlap ``[start, end)``. Only the stretch that can overlap is tested, so a span's
        cost does not grow with the text (a 7,200-word text with no sentence break has ~1,000 candidate spans)."""
        lo, hi = 0, len(self.offsets)
        if self._ends_so_far is not None:
            lo = int(np.searchsorted(self._ends_so_far, start, side="right"))
            hi = max(lo, int(np.searchsorted(self.offsets[:, 0], end, side="left")))
        part = self.offsets[lo:hi]
        idx = lo + np.nonzero((part[:, 0] < end) & (part[:, 1] > start))[0]
        if len(idx) == 0:  # a span inside one wordpiece's gap (e.g. only spaces): take the nearest wordpiece
            idx = np.array([min(int(np.searchsorted(self.offsets[:, 0], start)), len(self.offsets) - 1)])
        return idx

    def mean_vector(self, start: int, end: int) -> np.ndarray:
        """The mean vector of the wordpieces in ``[start, end)``, kept: every span of a sentence asks for its
        sentence's (a unit of 10,000 wordpieces made each of its spans cost a 10,000 x 768 mean)."""
        key = (start, end)
        if key not in self._means:
            self._means[key] = self.vectors[self.wordpieces(start, end)].mean(0)
        return self._means[key]

    def sentence(self, start: int, end: int) -> tuple[int, int]:
        """Character range of the sentence unit the span starts in."""
        k = max(0, int(np.searchsorted(self.unit_chars[:, 0], start, side="right")) - 1)
        return int(self.unit_chars[k, 0]), max(int(self.unit_chars[k, 1]), end)

    def recurrences(self, start: int, end: int) -> int:
        """How often the span's words (normalised) occur in the whole text, the span itself included."""
        return self._words.count(normalise(self.text[start:end]))

    @cached_property
    def _words(self) -> _Phrases:
        return _Phrases(self.normalised)

    @cached_property
    def _stemmed(self) -> _Phrases:
        return _Phrases(stems(self.normalised))

    def recurs(self, start: int, end: int) -> bool:
        """Whether the span's phrase, or a near variant (the same words up to their endings), occurs twice or more."""
        if self.recurrences(start, end) >= 2:
            return True
        return self._stemmed.count(stems(normalise(self.text[start:end]))) >= 2


class _Phrases:
    """Counts a phrase's occurrences in a normalised text (words and single spaces) as a regex search for it between
    word boundaries would, without the search: a text's candidate spans (hundreds) each scanned the whole text."""

    def __init__(self, normalised: str) -> None:
        self.words = normalised.split(" ") if normalised else []
        self.at: dict[str, list[int]] = {}
        for i, word in enumerate(self.words):
            self.at.setdefault(word, []).append(i)

    def count(self, phrase: str) -> int:
        """Non-overlapping occurrences, left to right (what `re.findall` counts)."""
        if not phrase:
            return 0
        key = phrase.split(" ")
        n, found, free = len(key), 0, 0
        for i in self.at.get(key[0], ()):
            if i >= free and self.words[i : i + n] == key:
                found, free = found + 1, i + n
        return found


def span_features(view: ArticleView, start: int, end: int) -> np.ndarray:
    text = view.text
    idx = view.wordpieces(start, end)
    s0, s1 = view.sentence(start, end)
    sentence_mean = view.mean_vector(s0, max(s1, s0 + 1))
    span, sent = text[start:end], text[s0:s1]
    recurrences = view.recurrences(start, end)
    cheap = np.array(
        [
            np.log1p(len(span)),
            np.log1p(len(idx)),
            np.log1p(recurrences),
            float(recurrences >= 2),
            sum(c.isupper() for c in span) / max(1, len(span)),
            float(any(q in span for q in "\"'“”‘’«»")),
            float("!" in span),
            float("?" in span),
            float("?" in sent),
            len(span) / max(1, len(sent)),
            float(span.istitle()),
            float(span.isupper()),
        ],
        dtype=np.float32,
    )
    vec = view.vectors
    return np.concatenate(
        [vec[idx].mean(0), vec[idx].max(0), sentence_mean, view.token_probs[idx].mean(0), cheap]
    ).astype(np.float32)


def span_evidence(
    view: ArticleView,
    tag_probs: np.ndarray,
    start: int,
    end: int,
    technique_logits: np.ndarray,
    label_probs: np.ndarray | None = None,
) -> np.ndarray:
    """What the span scorer (`decide.Params.span_scorer`) reads of a candidate span: is it propaganda at all?

    The tagger's probabilities over the span's wordpieces (inside: mean, max, min; begin: at its first wordpiece and
    mean), its per-technique probabilities (mean), the technique classifier's distribution (``technique_logits``,
    softmax at temperature 1; its largest value and entropy), the span's length and its share of its sentence unit,
    the unit's length, quotation marks; with a label layer (``label_probs``), its probabilities over the span too,
    whichever layer proposed it. The span's own words and unit only: nothing of the rest of the text.
    """
    idx = view.wordpieces(start, end)
    s0, s1 = view.sentence(start, end)
    e = np.exp(technique_logits - technique_logits.max())
    p = e / e.sum()
    span = view.text[start:end]
    tagger = _tag_evidence(tag_probs[idx])
    if label_probs is not None:
        tagger = np.concatenate([tagger, _tag_evidence(label_probs[idx])])
    shape = np.array(
        [
            np.log1p(len(idx)),
            np.log1p(len(span.split())),
            len(span) / max(1, s1 - s0),
            np.log1p(s1 - s0),
            float(any(q in span for q in QUOTES)),
            p.max(),
            -(p * np.log(p + 1e-9)).sum(),
        ]
    )
    return np.concatenate([tagger, view.token_probs[idx].mean(0), shape, p]).astype(np.float32)


def _tag_evidence(tags: np.ndarray) -> np.ndarray:
    """One tag layer's probabilities over a span's wordpieces: inside (mean, max, min), begin (first, mean)."""
    inside = 1.0 - tags[:, 0]
    return np.array(
        [
            _log_odds(inside.mean()),
            _log_odds(inside.max()),
            _log_odds(inside.min()),
            _log_odds(tags[0, 1]),
            tags[:, 1].mean(),
        ]
    )


def _log_odds(p: float) -> float:
    p = float(np.clip(p, 1e-4, 1 - 1e-4))
    return float(np.log(p / (1 - p)))
