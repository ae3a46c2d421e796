"""spaCy pipeline component: ``nlp.add_pipe("spinlens", config={"model": "default"})``.

Puts the detector's spans in ``doc.spans["spinlens"]`` (technique as label; ``scores``, ``span_confidence`` and
``technique_confidence`` in the group's attrs, aligned with the spans) and the article results in
``doc._.spinlens``, a plain dict (with the text's ``language`` and the ``notes`` a reader must see, e.g. that
technique spans are English-only). With ``catalogues``, the sentences that repeat a known claim go to
``doc.spans["spinlens_narratives"]``, labelled with the claim id. Spans whose character offsets fall inside a token are expanded to token
boundaries and listed with ``expanded: True``; spans that cannot be mapped at all are listed under ``unmapped``.
Registered with spaCy through the ``spacy_factories`` entry point (install ``spinlens[spacy]``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, SpanGroup
from spacy.tokens import Span as TokenSpan
from spacy.util import minibatch

import spinlens
from spinlens.document import Analysis, NarrativeMatch, Span

EXTENSION = "spinlens"

if not Doc.has_extension(EXTENSION):
    Doc.set_extension(EXTENSION, default=None)


def align_spans(
    doc: Doc, spans: Iterable[Span], name: str = "spinlens"
) -> tuple[SpanGroup, list[dict[str, Any]], list[dict[str, Any]]]:
    """Map character spans onto ``doc``'s tokens: (span group, one info dict per group span, unmapped spans).

    Each span is placed exactly (``alignment_mode="strict"``) where it can be, else expanded to the tokens it
    touches; a span that covers no token (only whitespace, or past the text) is returned in the unmapped list.
    """
    placed: list[TokenSpan] = []
    infos: list[dict[str, Any]] = []
    unmapped: list[dict[str, Any]] = []
    for span in spans:
        token_span, expanded = _place(doc, span.start, span.end, span.technique)
        if token_span is None:
            unmapped.append(span.model_dump(mode="json"))
            continue
        placed.append(token_span)
        info = span.model_dump(mode="json")
        info.update(
            expanded=expanded,
            token_start=token_span.start,
            token_end=token_span.end,
            start_char=token_span.start_char,
            end_char=token_span.end_char,
        )
        infos.append(info)
    group = SpanGroup(doc, name=name, spans=placed)
    group.attrs["scores"] = [info["score"] for info in infos]
    group.attrs["span_confidence"] = [info["span_confidence"] for info in infos]
    group.attrs["technique_confidence"] = [info["technique_confidence"] for info in infos]
    return group, infos, unmapped


def _place(doc: Doc, start: int, end: int, label: str) -> tuple[TokenSpan | None, bool]:
    """The tokens of a character span, exactly where possible, else expanded (True); None when it covers none."""
    token_span = doc.char_span(start, end, label=label, alignment_mode="strict")
    expanded = token_span is None
    if expanded:
        token_span = doc.char_span(start, end, label=label, alignment_mode="expand")
    return (token_span if token_span is not None and len(token_span) else None), expanded


def align_narratives(doc: Doc, matches: Iterable[NarrativeMatch], name: str = "spinlens_narratives") -> SpanGroup:
    """Matched sentences as a span group labelled with the claim id; the claim's title, link, catalogue, score and
    confidence in the group's attrs, aligned with the spans."""
    placed, kept = [], []
    for m in matches:
        token_span, _ = _place(doc, m.start, m.end, m.claim_id)
        if token_span is not None:
            placed.append(token_span)
            kept.append(m)
    group = SpanGroup(doc, name=name, spans=placed)
    for attr in ("title", "url", "catalogue", "score", "confidence", "relation"):
        group.attrs[attr + "s"] = [getattr(m, attr) for m in kept]
    return group


class SpinlensComponent:
    """Runs a spinlens detector over each doc's text; the model is loaded once, here."""

    def __init__(
        self,
        nlp: Language,
        name: str,
        model: str,
        batch_size: int,
        spans_key: str,
        catalogues: list[str] | None = None,
        db: str | None = None,
        narratives_key: str = "spinlens_narratives",
    ) -> None:
        self.name = name
        self.model = model
        self.batch_size = batch_size
        self.spans_key = spans_key
        self.narratives_key = narratives_key
        self.detector = spinlens.load(model, catalogues=catalogues or None, db=db)

    def __call__(self, doc: Doc) -> Doc:
        return next(self.pipe([doc]))

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterator[Doc]:
        """Docs in order; each spaCy batch goes through ``detector.pipe`` in one call."""
        for batch in minibatch(docs, size=batch_size):
            texts = [doc.text for doc in batch if doc.text.strip()]
            analyses = iter(self.detector.pipe(texts, batch_size=self.batch_size))
            for doc in batch:
                self._set(doc, next(analyses) if doc.text.strip() else None)
                yield doc

    def _set(self, doc: Doc, analysis: Analysis | None) -> None:
        group, infos, unmapped = align_spans(doc, analysis.spans if analysis else [], self.spans_key)
        doc.spans[self.spans_key] = group
        doc.spans[self.narratives_key] = align_narratives(
            doc, analysis.narratives if analysis else [], self.narratives_key
        )
        doc._.set(
            EXTENSION,
            {
                "model": self.detector.name,
                "model_version": self.detector.version,
                "scheme": analysis.scheme if analysis else None,
                "propaganda_score": analysis.propaganda_score if analysis else 0.0,
                "techniques": [v.model_dump(mode="json") for v in analysis.techniques] if analysis else [],
                "spans": infos,
                "unmapped": unmapped,
                "language": analysis.language if analysis else None,
                "notes": list(analysis.notes) if analysis else [],
                "narratives": [m.model_dump(mode="json") for m in analysis.narratives] if analysis else [],
            },
        )


@Language.factory(
    "spinlens",
    default_config={
        "model": "default",
        "batch_size": 8,
        "spans_key": "spinlens",
        "catalogues": [],
        "db": None,
        "narratives_key": "spinlens_narratives",
    },
    assigns=[f"doc._.{EXTENSION}"],
)
def make_spinlens(
    nlp: Language,
    name: str,
    model: str,
    batch_size: int,
    spans_key: str,
    catalogues: list[str],
    db: str | None,
    narratives_key: str,
) -> SpinlensComponent:
    """spaCy factory: ``model`` is a tier ("fast", "default", "accurate") or a model directory; ``catalogues``:
    names (in the database ``db``) or files of catalogues of known claims, whose matches go to
    ``doc.spans[narratives_key]``."""
    return SpinlensComponent(nlp, name, model, batch_size, spans_key, catalogues, db, narratives_key)
