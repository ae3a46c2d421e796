"""What the uncased encoder cannot see: capitals, quotes and punctuation of each wordpiece, from the raw text.

all-MiniLM-L6-v2 lower-cases its input, yet "Kiev REGIME", a capitalised slogan or a phrase in scare quotes are
typical of several techniques. These few columns go next to the encoder vectors into the span tagger.
"""

from __future__ import annotations

import numpy as np

N_SURFACE = 7
_OPEN, _CLOSE = "“‘«", "”’»"


def surface_features(text: str, offsets: np.ndarray) -> np.ndarray:
    """(n, 7) per wordpiece: capitalised, all-caps word, inside quotes, punctuation, '!', '?', starts a sentence."""
    inside = _quoted(text)
    out = np.zeros((len(offsets), N_SURFACE), np.float32)
    for i, (a, b) in enumerate(offsets):
        piece = text[a:b]
        if not piece:
            continue
        word_start, word_end = a, b
        while word_start > 0 and text[word_start - 1].isalnum():
            word_start -= 1
        while word_end < len(text) and text[word_end].isalnum():
            word_end += 1
        word = text[word_start:word_end]
        before = text[max(0, a - 3) : a].rstrip()
        out[i] = (
            piece[0].isupper(),
            len(word) > 1 and word.isupper(),
            inside[a],
            not piece[0].isalnum(),
            "!" in piece,
            "?" in piece,
            a == 0 or not before or before[-1] in ".!?\n:",
        )
    return out


def _quoted(text: str) -> np.ndarray:
    """Whether each character lies between quotation marks (straight quotes toggle; curly ones open and close)."""
    flags = np.zeros(len(text) + 1, np.float32)
    depth, straight = 0, False
    for i, ch in enumerate(text):
        if ch == '"':
            straight = not straight
        elif ch in _OPEN:
            depth += 1
        elif ch in _CLOSE and depth:
            depth -= 1
        elif ch == "\n":
            depth, straight = 0, False  # quotes do not run across paragraphs
        flags[i] = 1.0 if depth or straight else 0.0
    return flags


def tagger_inputs(text: str, offsets: np.ndarray, vectors: np.ndarray, surface: bool) -> np.ndarray:
    if not surface:
        return vectors
    return np.hstack([vectors, surface_features(text, offsets)])
