"""The detector: text in, `Analysis` out. Loads once, then analyses one document or streams many."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cached_property
from pathlib import Path

import numpy as np

from spinlens import taxonomy
from spinlens.detect.config import ModelConfig
from spinlens.detect.decide import (
    Params,
    SpanDecision,
    decide_article,
    decide_spans,
    rank_techniques,
    reported_spans,
)
from spinlens.detect.encoder import Encoded, Encoder
from spinlens.detect.features import ArticleView, span_features
from spinlens.detect.model import SpanTagger, TokenOutputs
from spinlens.detect.registry import DEFAULT_MODEL, MODELS_DIR, model_identity, model_path
from spinlens.detect.spans import QUOTES
from spinlens.detect.surface import tagger_inputs
from spinlens.detect.techniques import TechniqueClassifier
from spinlens.document import Analysis, Document, Span, TechniqueVerdict
from spinlens.errors import InputError

__all__ = ["DEFAULT_MODEL", "MODELS_DIR", "Detector", "load", "model_identity", "model_path"]


class Detector:
    """``Detector(model_dir)(text) -> Analysis``; ``pipe(texts)`` for many. State: the files in ``model_dir``."""

    def __init__(self, model_dir: str | Path | None = None, threads: int | None = None) -> None:
        self.model_dir = Path(model_dir) if model_dir else MODELS_DIR / DEFAULT_MODEL
        self.config = ModelConfig.read(self.model_dir)
        needed = ["techniques.npz", *[f"tagger-{k}.safetensors" for k in range(len(self.config.taggers))]]
        missing = [name for name in needed if not (self.model_dir / name).is_file()]
        if missing:
            raise InputError(f"incomplete model directory, missing {', '.join(missing)}", self.model_dir)
        self.name: str = self.config.name
        self.version: str = self.config.version
        self.techniques: list[str] = self.config.techniques
        self.params: Params = self.config.params
        delta = self.model_dir / self.config.encoder_delta if self.config.encoder_delta else None
        if delta is not None and not delta.is_file():
            raise InputError(f"incomplete model directory, missing {self.config.encoder_delta}", self.model_dir)
        self.encoder = Encoder(
            self.config.encoder_layers, threads, kind=self.config.encoder_kind, runtime=self.config.runtime, delta=delta
        )
        self.classifier = TechniqueClassifier.load(self.model_dir / "techniques.npz")

    @cached_property
    def taggers(self) -> list[SpanTagger]:
        """One tagger per training seed; their probabilities are averaged."""
        from safetensors.torch import load_file

        models = []
        for k, shape in enumerate(self.config.taggers):
            model = SpanTagger(**shape.model_dump())
            state = load_file(str(self.model_dir / f"tagger-{k}.safetensors"))
            model.load_state_dict({name: v.float() for name, v in state.items()})
            models.append(model.eval())
        return models

    def warm_up(self) -> Detector:
        """Load the encoder and tagger now rather than on the first document."""
        _ = self.encoder.model, self.encoder.tokenizer, self.taggers
        return self

    def __call__(self, document: str | Document) -> Analysis:
        return next(self.pipe([document], batch_size=1))

    def pipe(self, documents: Iterable[str | Document], batch_size: int = 8) -> Iterator[Analysis]:
        """Analyses in input order; ``batch_size`` documents share encoder batches."""
        for batch in document_batches(documents, batch_size):
            yield from self._analyse(batch)

    def classify_spans(self, document: str | Document, spans: list[tuple[int, int]]) -> np.ndarray:
        """Technique probabilities (one row per given span, columns in `self.techniques`) for given spans."""
        doc = _as_document(document, 0)
        if not spans:
            return np.zeros((0, len(self.techniques)), np.float32)
        encoded, out = self._token_outputs([doc])[0]
        view = ArticleView(doc.text, encoded.offsets, out.vectors, out.technique_probs, encoded.units)
        features = np.stack([span_features(view, a, b) for a, b in spans])
        return self.classifier.predict_proba(features, self.params.temperature)

    def label_spans(self, document: str | Document, spans: list[tuple[int, int]]) -> list[str]:
        """The technique of each given span (SemEval-2020 TC task); a span given k times gets its k best."""
        return rank_techniques(self.classify_spans(document, spans), list(spans), self.techniques)

    def _token_outputs(self, docs: list[Document]):  # type: ignore[no-untyped-def]
        encoded = self.encoder.encode_many([d.text for d in docs])
        vectors = [e.vectors for e in encoded]
        runs = [
            tagger.predict(
                [
                    tagger_inputs(d.text, e.offsets, v, tagger.surface)
                    for d, e, v in zip(docs, encoded, vectors, strict=True)
                ],
                [e.units for e in encoded],
            )
            for tagger in self.taggers
        ]
        outputs = [
            TokenOutputs(
                np.mean([r[i].tag_probs for r in runs], axis=0),
                np.mean([r[i].technique_probs for r in runs], axis=0),
                vectors[i],
                _mean_or_none([r[i].label_probs for r in runs]),
            )
            for i in range(len(docs))
        ]
        return list(zip(encoded, outputs, strict=True))

    def _analyse(self, docs: list[Document]) -> Iterator[Analysis]:
        yield from (analysis for analysis, _ in self.analyse_encoded(docs))

    def analyse_encoded(self, docs: list[Document]) -> list[tuple[Analysis, Encoded]]:
        """Analyses of ``docs`` together, each with the encoder's output for its text (wordpiece states, offsets,
        units): narrative matching pools its sentence vectors from them instead of encoding the text again."""
        from threadpoolctl import threadpool_limits

        token_outputs = self._token_outputs(docs)
        # The decisions are small numpy products. Left to its default, OpenBLAS starts threads for them that keep
        # spinning and slow torch's next forward pass on a 2-core machine (250 -> 185 ms per article with one).
        with threadpool_limits(limits=1, user_api="blas"):
            return [
                (self._decide(doc, encoded, out), encoded)
                for doc, (encoded, out) in zip(docs, token_outputs, strict=True)
            ]

    def _decide(self, doc: Document, encoded: Encoded, out: TokenOutputs) -> Analysis:
        decisions = decide_spans(
            doc.text, encoded.offsets, encoded.units, out, self.classifier, self.techniques, self.params
        )
        quoted: list[SpanDecision] = []
        if self.config.skip_reported_quotes and decisions:
            extents = [(d.start, d.end) for d in decisions]
            reported = reported_spans(doc.text, encoded.offsets, encoded.units, extents)
            quoted = [d for d, r in zip(decisions, reported, strict=True) if r]
            decisions = [d for d, r in zip(decisions, reported, strict=True) if not r]
        probs, present, overall = decide_article(decisions, self.techniques)
        spans = [
            Span(
                start=d.start,
                end=d.end,
                technique=d.technique,
                score=round(d.score, 4),
                span_confidence=round(d.span_confidence, 4),
                technique_confidence=round(d.technique_confidence, 4),
                note=taxonomy.explain(d.technique, doc.text[d.start : d.end]),
            )
            for d in decisions
        ]
        return Analysis(
            document=doc,
            spans=spans,
            techniques=[
                TechniqueVerdict(technique=t, present=present[t], probability=round(probs[t], 4))
                for t in self.techniques
            ],
            propaganda_score=round(overall, 4),
            scheme="ptc14",
            model=self.name,
            model_version=self.version,
            notes=[reported_note(doc.text, quoted)] if quoted else [],
        )


REPORTED_SPEECH = "Not marked, as reported speech"


def reported_note(text: str, quoted: list[SpanDecision], shown: int = 5) -> str:
    """Says which quoted words were left unmarked as reported speech, and what they would have been marked as: a
    wire report with none of its own comes back with no span, and the reader learns why."""
    found: dict[str, list[str]] = {}
    for d in quoted:
        techniques = found.setdefault(text[d.start : d.end].strip(QUOTES), [])
        if d.technique not in techniques:
            techniques.append(d.technique)
    items = [f'"{q}" ({", ".join(map(taxonomy.display_name, ts))})' for q, ts in found.items()]
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return f"{REPORTED_SPEECH} (short quotations the text attributes to someone, not its own words): " + (
        "; ".join(items[:shown]) + more
    )


def detector_notes(notes: list[str]) -> list[str]:
    """The notes the detector wrote (`reported_note`), among an analysis's: a stored analysis matched again against
    new catalogues gets its language and matcher notes anew, and keeps these (they need the model to redo)."""
    return [n for n in notes if n.startswith(REPORTED_SPEECH)]


def document_batches(items: Iterable[str | Document], size: int) -> Iterator[list[Document]]:
    """Lists of up to ``size`` documents; a plain string becomes a document whose id is its position."""
    batch: list[Document] = []
    for i, item in enumerate(items):
        batch.append(_as_document(item, i))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _as_document(item: str | Document, i: int) -> Document:
    if isinstance(item, Document):
        return item
    if isinstance(item, str):
        if not item.strip():
            raise InputError(f"document {i} is empty")
        return Document(id=str(i), text=item)
    raise TypeError(f"expected str or Document, got {type(item).__name__}")


_LOADED: dict[str, Detector] = {}


def load(model: str | Path | None = None, threads: int | None = None) -> Detector:
    """A detector, cached per process: ``model`` is a tier ("fast", "default", "accurate"), a directory or None."""
    path = model_path(model)
    key = str(path.resolve())
    if key not in _LOADED:
        _LOADED[key] = Detector(path, threads=threads)
    return _LOADED[key]


def _mean_or_none(arrays: list[np.ndarray | None]) -> np.ndarray | None:
    """The taggers' mean label-layer probabilities; None unless every tagger has a label layer."""
    if any(a is None for a in arrays):
        return None
    return np.mean(arrays, axis=0)
