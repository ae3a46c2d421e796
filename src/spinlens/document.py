"""The document model: what goes into detection (`Document`) and what comes out (`Span`, `Analysis`).

Offsets are character offsets (Python ``str`` indices) into ``Document.text`` exactly as given: start inclusive,
end exclusive, as PTC uses them. The text is never stripped, re-flowed or normalised, so a UTF-8 byte order mark
at the start of a file is character 0.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Document(BaseModel):
    """One article: its untouched text and what is known about where it came from."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="Stable identifier, e.g. the digits of a PTC article<ID>.txt file name")
    text: str = Field(description="The full text, exactly as read; offsets point into it")
    title: str | None = None
    source: str | None = Field(default=None, description="Outlet or publisher")
    url: str | None = None
    published: dt.date | dt.datetime | None = None
    language: str | None = Field(default=None, description="BCP-47 code, e.g. 'en'")
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the text: the same text gives the same fingerprint whatever its id."""
        return hashlib.sha256(self.text.encode("utf-8", "surrogatepass")).hexdigest()


class Span(BaseModel):
    """A stretch of text that uses one technique. Several spans may cover the same characters."""

    model_config = ConfigDict(frozen=True)

    start: int = Field(ge=0, description="First character, inclusive")
    end: int = Field(description="One past the last character")
    technique: str = Field(description="Technique name in the scheme of the Analysis (PTC strings by default)")
    score: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Calibrated probability that this span uses this technique: span_confidence x technique_confidence",
    )
    span_confidence: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Calibrated probability that the span is propaganda at all"
    )
    technique_confidence: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Calibrated probability of the technique, given that it is"
    )
    note: str | None = Field(default=None, description="Plain-language explanation")

    @model_validator(mode="after")
    def _ordered(self) -> Span:
        if self.end <= self.start:
            raise ValueError(f"span end {self.end} must be greater than start {self.start}")
        return self

    def text_in(self, document: Document | str) -> str:
        text = document.text if isinstance(document, Document) else document
        return text[self.start : self.end]


class TechniqueVerdict(BaseModel):
    """Article level: does the article use this technique, and how likely is that."""

    model_config = ConfigDict(frozen=True)

    technique: str
    present: bool
    probability: float = Field(ge=0.0, le=1.0)


class NarrativeMatch(BaseModel):
    """A stretch of text (a sentence, a title, or two sentences) that repeats a known, catalogued claim."""

    model_config = ConfigDict(frozen=True)

    start: int = Field(ge=0, description="First character of the matched sentence(s), inclusive")
    end: int = Field(description="One past the last character")
    catalogue: str = Field(description="Name of the catalogue the claim comes from")
    claim_id: str = Field(description="The claim's id in its catalogue (EUvsDisinfo: the case URL)")
    title: str = Field(description="The claim as the catalogue states it")
    url: str | None = Field(default=None, description="Where the claim was debunked")
    date: str | None = Field(default=None, description="When the claim was catalogued (ISO date)")
    verdict: str | None = Field(default=None, description="The catalogue's verdict, e.g. 'False' or 'Disinformation'")
    score: float = Field(description="The matcher's fused similarity score (not a probability)")
    confidence: float = Field(ge=0.0, le=1.0, description="Calibrated probability that the text states this claim")
    relation: str = Field(
        default="states", description="'states': the text repeats the claim; 'topic': it only shares its topic"
    )

    @model_validator(mode="after")
    def _ordered(self) -> NarrativeMatch:
        if self.end <= self.start:
            raise ValueError(f"narrative match end {self.end} must be greater than start {self.start}")
        return self


class Analysis(BaseModel):
    """The result of running a detector over one document."""

    document: Document
    spans: list[Span] = Field(default_factory=list)
    techniques: list[TechniqueVerdict] = Field(default_factory=list, description="Article-level results")
    propaganda_score: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Probability of the article's most likely technique, from its spans; 0 when no span was found",
    )
    scheme: str = "ptc14"
    model: str = "unknown"
    model_version: str = "0"
    language: str | None = Field(default=None, description="ISO 639-1 code of the text's language, detected offline")
    notes: list[str] = Field(
        default_factory=list, description="What the reader must know, e.g. that technique spans are English-only"
    )
    narratives: list[NarrativeMatch] = Field(
        default_factory=list, description="Known, catalogued claims that sentences of the text repeat"
    )

    @model_validator(mode="after")
    def _spans_inside(self) -> Analysis:
        n = len(self.document.text)
        for span in self.spans:
            if span.end > n:
                raise ValueError(
                    f"span {span.start}-{span.end} ({span.technique}) ends past the text of document "
                    f"{self.document.id!r}, which has {n} characters"
                )
        for match in self.narratives:
            if match.end > n:
                raise ValueError(
                    f"narrative match {match.start}-{match.end} ({match.claim_id}) ends past the text of document "
                    f"{self.document.id!r}, which has {n} characters"
                )
        return self

    def to_json(self, indent: int | None = None) -> str:
        return self.model_dump_json(indent=indent)

    @classmethod
    def from_json(cls, data: str | bytes) -> Analysis:
        return cls.model_validate_json(data)
