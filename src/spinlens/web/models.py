"""The API's request and response bodies, so that /openapi.json documents every answer."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from spinlens.corrections import CorrectedSpan, Correction
from spinlens.document import Span
from spinlens.review.state import ReviewMark


class DocumentIn(BaseModel):
    text: str = Field(min_length=1, description="The article text")
    title: str | None = None
    source: str | None = None
    url: str | None = None
    date: dt.date | dt.datetime | None = None


class BatchIn(BaseModel):
    documents: list[DocumentIn]


class Problem(BaseModel):
    """Every error: one line saying what went wrong and what to do."""

    detail: str


class SpanReviewOut(BaseModel):
    status: str = Field(description="model (nobody reviewed it), accepted, relabelled, moved or added")
    author: str | None = Field(description="Who decided it (None: nobody)")
    decided: str | None = Field(description="When (ISO 8601)")


class ReviewOut(BaseModel):
    """What people did to an analysis."""

    corrections: int = Field(description="Corrections made (GET .../corrections lists them)")
    spans: dict[str, int] = Field(description="Spans per decision: model, accepted, relabelled, moved, added, rejected")
    authors: list[str]
    complete: bool = Field(description="A person marked the review complete: spans not there count as absent")
    completed_by: str | None
    completed: str | None
    summary: str = Field(description="The same in one line")


class SpanOut(BaseModel):
    start: int = Field(description="First character, inclusive (a Python string index into `text`)")
    end: int = Field(description="One past the last character")
    text: str
    technique: str = Field(description="PTC technique name")
    category: str
    score: float | None = Field(description="span_confidence x technique_confidence")
    span_confidence: float | None = Field(description="How likely the passage is propaganda at all")
    technique_confidence: float | None = Field(description="How likely this technique is, given that it is")
    definition: str
    explanation: str | None
    review: SpanReviewOut | None = Field(default=None, description="What a person decided about this span")


class TechniqueVerdictOut(BaseModel):
    technique: str
    present: bool
    probability: float
    evidence: list[int] = Field(description="Indexes into `spans` of the spans with this technique")


class NarrativeOut(BaseModel):
    """A sentence (or the title, or two sentences) that repeats a known, catalogued claim."""

    start: int = Field(description="First character of the matched text, inclusive (a Python string index into `text`)")
    end: int = Field(description="One past the last character")
    text: str = Field(description="The matched sentence(s)")
    catalogue: str = Field(description="The catalogue the claim comes from")
    claim_id: str = Field(description="The claim's id in its catalogue (EUvsDisinfo: the case URL)")
    title: str = Field(description="The claim as the catalogue states it")
    url: str | None = Field(description="Where the claim was debunked")
    date: str | None
    verdict: str | None
    score: float = Field(description="The matcher's fused similarity score (not a probability)")
    confidence: float = Field(description="Calibrated probability that the text states this claim")
    relation: str = Field(description="'states': the text repeats the claim; 'topic': it only shares its topic")


class AnalysisOut(BaseModel):
    """One analysed article: the JSON record of `spinlens analyze`, with the stored id and the full text."""

    id: int = Field(description="The stored analysis's id")
    cached: bool = Field(description="True when answered from the store (the same text analysed before)")
    document_id: str
    title: str = Field(description="The title given, else the text's first line")
    source: str | None
    url: str | None
    published: str | None
    model: str
    model_version: str
    scheme: str
    propaganda_score: float | None
    summary: str
    techniques: list[TechniqueVerdictOut]
    spans: list[SpanOut]
    characters: int
    corrected: bool = Field(
        default=False, description="People corrected it: spans, techniques, score and summary show the corrected state"
    )
    review: ReviewOut | None = Field(default=None, description="What people did to it (stored analyses)")
    model_propaganda_score: float | None = Field(default=None, description="The model's own score, when corrected")
    model_spans: list[SpanOut] | None = Field(default=None, description="The model's own spans, when corrected")
    language: str | None = Field(
        default=None, description="ISO 639-1 code of the text's language, detected offline ('und': not known)"
    )
    notes: list[str] = Field(
        default_factory=list,
        description="What the reader must know, e.g. 'technique spans are English-only; this text is Russian (ru): "
        "no technique analysis was run'",
    )
    narratives: list[NarrativeOut] = Field(
        default_factory=list, description="Known claims the text repeats (when the server matches catalogues)"
    )
    text: str


class HistoryItem(BaseModel):
    """A stored analysis in the history (no text)."""

    id: int
    title: str
    source: str | None
    created: str | None
    n_spans: int
    propaganda_score: float | None
    model: str
    model_version: str
    corrected: bool = Field(default=False, description="People corrected it: n_spans and the score are corrected")
    review_complete: bool = Field(default=False, description="A person marked its review complete")


class Deleted(BaseModel):
    id: int
    deleted: bool = True


class Health(BaseModel):
    status: str
    model: str
    model_version: str
    analyses_pending: int = Field(description="Analyses admitted and not finished (running or waiting)")
    chars_per_second: float | None = Field(
        None, description="The measured speed of long analyses (None before the first): the page's time estimate"
    )


class TechniqueInfo(BaseModel):
    name: str
    scheme: str
    category: str
    definition: str
    example: str
    colour: str


class StatsRow(BaseModel):
    """One group (an outlet, a month, an outlet and month, or a technique): counts and rates per 1,000 words.

    Rows by outlet and by month also have ``<technique>_per_1000_words`` for each technique."""

    model_config = ConfigDict(extra="allow")

    outlet: str | None = None
    month: str | None = None
    technique: str | None = None
    category: str | None = None
    documents: int | None = None
    words: int | None = None
    spans: int
    spans_per_1000_words: float
    mean_propaganda_score: float | None = None
    documents_with_spans: int | None = None
    share_of_documents: float | None = None
    mean_span_confidence: float | None = None


class CorrectionsOut(BaseModel):
    """An analysis's corrections and the corrected state that follows from them."""

    corrections: list[Correction] = Field(description="Every correction of the analysis, in the order made")
    spans: list[CorrectedSpan] = Field(description="The corrected article's spans (rejected ones left out), by start")
    model_spans: list[Span] = Field(
        description="The model's spans as it made them, in the order a correction's `span` index refers to"
    )
    rejected: list[CorrectedSpan] = Field(default_factory=list, description="The model spans people rejected")
    review_complete: ReviewMark | None = Field(default=None, description="Who marked the review complete, and when")
    summary: str = Field(default="", description="The corrected article in one line (as `summary` of the analysis)")
    propaganda_score: float | None = Field(default=None, description="The corrected article's score")
    techniques: list[TechniqueVerdictOut] = Field(
        default_factory=list,
        description="The corrected article-level verdicts (`evidence`: indexes into `spans` of GET /api/analyses/{id})",
    )
    review: ReviewOut | None = Field(default=None, description="What people did to it, in numbers and one line")


class ReviewCompleteOut(BaseModel):
    """An analysis's review marked complete: the mark, and the model spans thereby accepted."""

    mark: ReviewMark
    accepted: int = Field(description="Spans nobody had reviewed, now accepted by the one who marked it complete")
