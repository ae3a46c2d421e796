"""What ``spinlens.load()`` returns: the one place where an analysis is put together.

    Document -> language (`spinlens.language`) -> technique spans, English only (`spinlens.detect`)
             -> narratives, any language, when catalogues are given (`spinlens.narratives`) -> Analysis

Every sink (the CLI's files, the HTML report, the store, the web API, the spaCy component, batch workers) gets its
analyses from here, so none of them can forget the language: a Russian text comes back with ``language="ru"``, no
technique verdicts, no propaganda score (None, not 0) and a note that says why, in every output.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol

import numpy as np

from spinlens import language
from spinlens.document import Analysis, Document, NarrativeMatch


class Matchers(Protocol):
    """What the composition needs of narrative matching (`spinlens.narratives.multilingual.LanguageMatchers`)."""

    names: list[str]

    def match_documents(
        self,
        documents: Sequence[Document],
        guesses: Sequence[language.LanguageGuess],
        states: dict | None = None,  # type: ignore[type-arg]
        detector=None,  # type: ignore[no-untyped-def]
    ) -> list[list[NarrativeMatch]]: ...


class Analyzer:
    """``nlp = spinlens.load(catalogues=["euvsdisinfo"]); nlp(text) -> Analysis``; ``nlp.pipe(texts)`` for many."""

    def __init__(self, detector, matcher: Matchers | None = None) -> None:  # type: ignore[no-untyped-def]
        self.detector = detector
        self.matcher = matcher
        self.name: str = detector.name
        self.version: str = detector.version
        self.techniques: list[str] = detector.techniques
        # the names of the catalogues every text is matched against (stored with each analysis's matches)
        self.catalogues: list[str] = list(getattr(matcher, "names", ()) or ())

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        """Everything else is the technique detector's (``model_dir``, ``config``, ``encoder``, ``params`` ...)."""
        if name == "detector":  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.detector, name)

    def warm_up(self) -> Analyzer:
        self.detector.warm_up()
        language.detect("warm up")
        if self.matcher is not None and hasattr(self.matcher, "warm_up"):
            self.matcher.warm_up()
        return self

    def __call__(self, document: str | Document) -> Analysis:
        return next(self.pipe([document], batch_size=1))

    def pipe(self, documents: Iterable[str | Document], batch_size: int = 8) -> Iterator[Analysis]:
        """Analyses in input order; ``batch_size`` documents share the detector's encoder batches."""
        from spinlens.detect.pipeline import document_batches

        for batch in document_batches(documents, batch_size):
            yield from self._analyse(batch)

    def _analyse(self, docs: list[Document]) -> list[Analysis]:
        guesses = [language.detect(d.text) for d in docs]
        english = [i for i, g in enumerate(guesses) if g.english]
        # foreign paragraphs of an English text are blanked (same length: offsets hold) for the technique model
        masked = [_masked(docs[i], guesses[i].foreign) for i in english]
        analysed = self.detector.analyse_encoded(masked) if masked else []
        found = {i: a for i, (a, _) in zip(english, analysed, strict=True)}
        states = {i: (masked[k], e) for k, (i, (_, e)) in enumerate(zip(english, analysed, strict=True))}
        matches = (
            self.matcher.match_documents(docs, guesses, states, self.detector)
            if self.matcher is not None
            else [[] for _ in docs]
        )
        results = []
        for i, (doc, guess) in enumerate(zip(docs, guesses, strict=True)):
            notes = _notes(guess, self.matcher)
            base = found.get(i)
            if base is None:
                results.append(
                    Analysis(
                        document=doc,
                        model=self.name,
                        model_version=self.version,
                        language=guess.language,
                        notes=notes,
                        narratives=matches[i],
                    )
                )
            else:
                update = {
                    "document": doc,
                    "language": guess.language,
                    "notes": notes + base.notes,  # the detector's (reported speech left unmarked) after these
                    "narratives": matches[i],
                }
                results.append(base.model_copy(update=update))
        return results

    # the SemEval TC task (techniques of given spans) is the detector's alone
    def classify_spans(self, document: str | Document, spans: list[tuple[int, int]]) -> np.ndarray:
        return self.detector.classify_spans(document, spans)

    def label_spans(self, document: str | Document, spans: list[tuple[int, int]]) -> list[str]:
        return self.detector.label_spans(document, spans)


def _notes(guess: language.LanguageGuess, matchers: Matchers | None) -> list[str]:
    notes = guess.notes()
    if matchers is not None and (note := guess.narrative_note()):
        notes.append(note)
    return notes


def narratives_of(matchers: Matchers, docs: list[Document]) -> list[tuple[list[str], str | None, list[NarrativeMatch]]]:
    """(notes, language, matches) of each document, without technique spans: for analyses stored before, matched
    against new catalogues (`spinlens.narratives.catchup`)."""
    guesses = [language.detect(d.text) for d in docs]
    found = matchers.match_documents(docs, guesses)
    return [(_notes(g, matchers), g.language, m) for g, m in zip(guesses, found, strict=True)]


def load_matchers(catalogues: Sequence[str], db: str | None = None, threads: int | None = None) -> Matchers:
    """Matchers over catalogue names (in ``db``) or files, for every language (`spinlens.narratives.multilingual`)."""
    from spinlens.narratives.multilingual import open_matchers

    return open_matchers(list(catalogues), db=db, threads=threads)


_NOT_NEWLINE = re.compile(r"[^\n]")


def _masked(doc: Document, segments: Sequence[language.Segment]) -> Document:
    if not segments:
        return doc
    text = doc.text
    for s in segments:
        text = text[: s.start] + _NOT_NEWLINE.sub(" ", text[s.start : s.end]) + text[s.end :]
    return doc.model_copy(update={"text": text})


def load(model=None, threads: int | None = None, catalogues=None, db: str | None = None) -> Analyzer:  # type: ignore[no-untyped-def]
    """The detector (cached per process by `spinlens.detect.pipeline.load`) with a matcher for ``catalogues``."""
    from spinlens.detect.pipeline import load as load_detector

    detector = load_detector(model, threads=threads)
    return Analyzer(detector, load_matchers(catalogues, db=db, threads=threads) if catalogues else None)
