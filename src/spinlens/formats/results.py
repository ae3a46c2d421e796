"""Analyses out: JSON records for people and programs, and PTC label lines for scorers."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TextIO

from spinlens import taxonomy
from spinlens.document import Analysis
from spinlens.language import name as language_name
from spinlens.language import reads_techniques


def analysis_record(analysis: Analysis) -> dict[str, Any]:
    """A self-explanatory JSON-ready record: every span with its text, category and definition."""
    doc = analysis.document
    spans = []
    for s in sorted(analysis.spans, key=lambda s: (s.start, s.end, s.technique)):
        t = taxonomy.get(s.technique, analysis.scheme)
        spans.append(
            {
                "start": s.start,
                "end": s.end,
                "text": doc.text[s.start : s.end],
                "technique": s.technique,
                "category": t.category,
                "score": s.score,
                "span_confidence": s.span_confidence,
                "technique_confidence": s.technique_confidence,
                "definition": t.definition,
                "explanation": s.note,
            }
        )
    return {
        "id": doc.id,
        "title": doc.title or _first_line(doc.text),
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


def _first_line(text: str) -> str:
    return text.lstrip("\ufeff").strip().split("\n", 1)[0][:200] if text.strip() else ""


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
