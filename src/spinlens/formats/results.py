"""Analyses out: JSON records for people and programs, and PTC label lines for scorers.

A record of a stored analysis people reviewed shows the corrected state (`spinlens.review.state`): its spans,
verdicts and score, each span's ``review`` (what was decided, by whom, when), ``corrected`` and ``review`` at the
top, and the model's own spans and score beside them (``model_spans``, ``model_propaganda_score``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TextIO

from spinlens import taxonomy
from spinlens.corrections import CorrectedSpan
from spinlens.document import Analysis, Span
from spinlens.language import name as language_name
from spinlens.language import reads_techniques
from spinlens.review.state import Reviewed, decision
from spinlens.textutil import short_title


def analysis_record(analysis: Analysis, reviewed: Reviewed | None = None) -> dict[str, Any]:
    """A self-explanatory JSON-ready record: every span with its text, category and definition; with ``reviewed``
    (the same analysis as people left it), the corrected state, marked as such, and the model's own beside it
    (an analysis nobody reviewed gives the model's record, ``"review": null``)."""
    if reviewed is not None and not (reviewed.corrected or reviewed.complete):
        reviewed = None  # nobody reviewed it: the same record as the model's answer
    if reviewed is not None:
        analysis = reviewed.analysis
        pairs = list(zip(analysis.spans, reviewed.span_reviews, strict=True))
    else:
        pairs = [(s, None) for s in analysis.spans]
    doc = analysis.document
    spans = [
        _span_record(analysis, s, r) for s, r in sorted(pairs, key=lambda p: (p[0].start, p[0].end, p[0].technique))
    ]
    corrected = reviewed is not None and reviewed.corrected
    return {
        "id": doc.id,
        "title": doc.title or short_title(doc.text),
        "source": doc.source,
        "url": doc.url,
        "published": doc.published.isoformat() if doc.published else None,
        "model": analysis.model,
        "model_version": analysis.model_version,
        "scheme": analysis.scheme,
        "propaganda_score": analysis.propaganda_score,
        "summary": summary(analysis),
        "techniques": [
            {**v.model_dump(), "evidence": [i for i, s in enumerate(spans) if s["technique"] == v.technique]}
            for v in analysis.techniques
        ],
        "spans": spans,
        "characters": len(doc.text),
        "corrected": corrected,
        "review": review_record(reviewed) if reviewed is not None else None,
        "model_propaganda_score": reviewed.model.propaganda_score if corrected else None,  # type: ignore[union-attr]
        "model_spans": [
            _span_record(reviewed.model, s, None)  # type: ignore[union-attr]
            for s in sorted(reviewed.model.spans, key=lambda s: (s.start, s.end, s.technique))  # type: ignore[union-attr]
        ]
        if corrected
        else None,
        "language": analysis.language,
        "notes": list(analysis.notes),
        "narratives": narrative_records(analysis),
    }


def narrative_records(analysis: Analysis) -> list[dict[str, Any]]:
    """The known claims the text repeats, each with the matched text and where the claim was debunked."""
    text = analysis.document.text
    return [
        {
            "start": m.start,
            "end": m.end,
            "text": text[m.start : m.end],
            "catalogue": m.catalogue,
            "claim_id": m.claim_id,
            "title": m.title,
            "url": m.url,
            "date": m.date,
            "verdict": m.verdict,
            "score": m.score,
            "confidence": m.confidence,
            "relation": m.relation,
        }
        for m in sorted(analysis.narratives, key=lambda m: (m.start, -m.confidence, m.claim_id))
    ]


def _span_record(analysis: Analysis, s: Span, review: CorrectedSpan | None) -> dict[str, Any]:
    t = taxonomy.get(s.technique, analysis.scheme)
    record = {
        "start": s.start,
        "end": s.end,
        "text": analysis.document.text[s.start : s.end],
        "technique": s.technique,
        "category": t.category,
        "score": s.score,
        "span_confidence": s.span_confidence,
        "technique_confidence": s.technique_confidence,
        "definition": t.definition,
        "explanation": s.note,
    }
    if review is not None:
        record["review"] = {
            "status": decision(review).value,
            "author": review.author,
            "decided": review.decided.isoformat() if review.decided else None,
        }
    return record


def review_record(reviewed: Reviewed) -> dict[str, Any]:
    """What people did to an analysis: counts per decision, who, whether the review is complete, in one line too."""
    counts: dict[str, int] = {}
    for s in [*reviewed.spans, *reviewed.rejected]:
        counts[decision(s).value] = counts.get(decision(s).value, 0) + 1
    authors = sorted({c.author for c in reviewed.corrections} | ({reviewed.mark.author} if reviewed.mark else set()))
    return {
        "corrections": len(reviewed.corrections),
        "spans": counts,
        "authors": authors,
        "complete": reviewed.complete,
        "completed_by": reviewed.mark.author if reviewed.mark else None,
        "completed": reviewed.mark.marked.isoformat() if reviewed.mark else None,
        "summary": review_line(reviewed),
    }


def review_line(reviewed: Reviewed) -> str:
    """One line: "corrected by alice: 2 accepted, 1 rejected, 1 added, 3 not reviewed; review complete"."""
    if not reviewed.corrected and not reviewed.complete:
        return "not reviewed: the model's output"
    counts: dict[str, int] = {}
    for s in [*reviewed.spans, *reviewed.rejected]:
        counts[decision(s).value] = counts.get(decision(s).value, 0) + 1
    authors = sorted({c.author for c in reviewed.corrections})
    parts = [f"{n} {d}" for d in ("accepted", "relabelled", "moved", "added", "rejected") if (n := counts.get(d))]
    if counts.get("model"):
        parts.append(f"{counts['model']} not reviewed")
    line = f"corrected by {', '.join(authors)}: {', '.join(parts) or 'no span'}" if authors else "not corrected"
    if reviewed.mark:
        line += f"; review complete ({reviewed.mark.author}, {reviewed.mark.marked:%Y-%m-%d})"
    return line


CONFIDENCE_HELP = (
    "Each span has two calibrated confidences: how likely the passage is propaganda at all, and how likely the "
    "named technique is, given that it is; its score is their product. A technique is listed as used only when "
    "at least one span shows it."
)


def summary(analysis: Analysis) -> str:
    """One line a person can read: what was found, or that nothing was."""
    present = [v.technique for v in analysis.techniques if v.present]
    if not analysis.techniques and not reads_techniques(analysis.language):
        return f"technique spans not looked for: the text is {language_name(analysis.language)}" + _claims(analysis)
    if not analysis.spans:
        return "no technique found" + _claims(analysis)
    n = len({(s.start, s.end) for s in analysis.spans})
    return (
        f"{n} passage{'s' if n != 1 else ''} with {len(present)} technique{'s' if len(present) != 1 else ''}: "
        + ", ".join(taxonomy.display_name(t) for t in present)
        + _claims(analysis)
    )


def _claims(analysis: Analysis) -> str:
    n = len({m.claim_id for m in analysis.narratives})
    return f"; repeats {n} known claim{'s' if n != 1 else ''}" if n else ""


def analysis_json(analysis: Analysis) -> str:
    """One analysis's record as indented JSON (what `write_json` writes for one article)."""
    return json.dumps(analysis_record(analysis), ensure_ascii=False, indent=1) + "\n"


def write_json(analyses: Iterable[Analysis], out: TextIO) -> None:
    records = [analysis_record(a) for a in analyses]
    json.dump(records[0] if len(records) == 1 else records, out, ensure_ascii=False, indent=1)
    out.write("\n")


def write_jsonl(analyses: Iterable[Analysis], out: TextIO) -> None:
    for a in analyses:
        out.write(json.dumps(analysis_record(a), ensure_ascii=False) + "\n")


def ptc_lines(analysis: Analysis) -> list[str]:
    """``ID<TAB>TECHNIQUE<TAB>START<TAB>END`` per predicted span (PTC technique names)."""
    return [
        f"{analysis.document.id}\t{s.technique}\t{s.start}\t{s.end}"
        for s in sorted(analysis.spans, key=lambda s: (s.start, s.end, s.technique))
    ]
