"""Analyses out: JSON records for people and programs, and PTC label lines for scorers."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TextIO

from spinlens import taxonomy
from spinlens.document import Analysis
from spinlens.textutil import short_title


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
    }


CONFIDENCE_HELP = (
    "Each span has two calibrated confidences: how likely the passage is propaganda at all, and how likely the "
    "named technique is, given that it is; its score is their product. A technique is listed as used only when "
    "at least one span shows it."
)


def summary(analysis: Analysis) -> str:
    """One line a person can read: what was found, or that nothing was."""
    present = [v.technique for v in analysis.techniques if v.present]
    if not analysis.spans:
        return "no technique found"
    n = len({(s.start, s.end) for s in analysis.spans})
    return f"{n} passage{'s' if n != 1 else ''} with {len(present)} technique{'s' if len(present) != 1 else ''}: " + (
        ", ".join(taxonomy.display_name(t) for t in present)
    )


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
