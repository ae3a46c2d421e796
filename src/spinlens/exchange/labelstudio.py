"""Label Studio: corrected analyses as tasks to review, and Label Studio's JSON export read back as corrections.

Each task holds the text, the analysis id (``data.spinlens_analysis``), the model's spans as a prediction and
the corrected spans as an annotation; one region per span, its labels the PTC technique ids (so a round trip
is exact). Offsets are characters of the text, as Label Studio's ``value.start``/``value.end``.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spinlens import taxonomy
from spinlens.corrections import Correction, CorrectionIn, corrected_spans
from spinlens.document import Analysis
from spinlens.errors import InputError
from spinlens.exchange import Corrected
from spinlens.exchange.review import Region, corrections_to_reach

FROM_NAME, TO_NAME = "label", "text"
Lookup = Callable[[int], tuple[Analysis, list[Correction]] | None]


def label_config() -> str:
    """The labelling config: the 14 PTC techniques (one or more per region) on the article's text."""
    labels = "\n".join(
        f'    <Label value="{html.escape(t.name)}" background="{t.colour}"/>' for t in taxonomy.techniques("ptc14")
    )
    return (
        f'<View>\n  <Labels name="{FROM_NAME}" toName="{TO_NAME}" choice="multiple">\n{labels}\n  </Labels>\n'
        f'  <Text name="{TO_NAME}" value="$text"/>\n</View>\n'
    )


def task(analysis_id: int, analysis: Analysis, corrections: list[Correction]) -> dict[str, Any]:
    """One task: the model's spans as the prediction, the corrected spans as the annotation."""
    text = analysis.document.text
    model = [(s.start, s.end, [s.technique]) for s in analysis.spans]
    corrected = [(s.start, s.end, s.techniques) for s in corrected_spans(text, analysis.spans, corrections)]
    prediction: dict[str, Any] = {
        "model_version": f"{analysis.model} {analysis.model_version}",
        "result": _results(text, model, "m"),
    }
    if analysis.propaganda_score is not None:
        prediction["score"] = analysis.propaganda_score
    return {
        "data": {
            "text": text,
            "spinlens_analysis": analysis_id,
            "title": analysis.document.title or analysis.document.id,
        },
        "predictions": [prediction],
        "annotations": [{"result": _results(text, corrected, "c")}],
    }


def tasks(items: Iterable[Corrected]) -> list[dict[str, Any]]:
    return [task(*item) for item in items]


def config_path(output: Path) -> Path:
    """Where the labelling config goes: beside the tasks, ``NAME.label-config.xml``."""
    return output.with_name(output.stem + ".label-config.xml")


def write_tasks(items: Iterable[Corrected], output: Path) -> Path:
    """Write the tasks (JSON) and the labelling config beside them; returns the config's path."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(tasks(items), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    config = config_path(output)
    config.write_text(label_config(), encoding="utf-8")
    return config


def _results(text: str, regions: Iterable[Region], prefix: str) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{prefix}{n}",
            "from_name": FROM_NAME,
            "to_name": TO_NAME,
            "type": "labels",
            "value": {"start": start, "end": end, "text": text[start:end], "labels": list(techniques)},
        }
        for n, (start, end, techniques) in enumerate(regions)
    ]


@dataclass(frozen=True)
class Imported:
    """What one reviewed task says: the corrections that make its analysis match the reviewer's regions."""

    task: str
    analysis_id: int
    author: str
    corrections: list[CorrectionIn]


def read_export(data: Any, lookup: Lookup, path: str | Path | None = None) -> tuple[list[Imported], int]:
    """Label Studio's JSON export as corrections, all checked before any is stored: (per task, tasks skipped).

    Tasks without ``data.spinlens_analysis`` or without a (not cancelled) annotation are skipped; of several
    annotations the latest counts. A task of an unknown analysis or another text, offsets outside the text or an
    unknown label raise `InputError` naming the task and the field.
    """
    if not isinstance(data, list):
        raise InputError("expected a list of tasks (Label Studio's JSON export; not JSON-MIN or CSV)", path)
    out: list[Imported] = []
    seen: dict[int, str] = {}
    skipped = 0
    for n, item in enumerate(data, start=1):
        where = f"task {item['id']}" if isinstance(item, dict) and "id" in item else f"task #{n}"
        bad = _complaint(where, path)
        if not isinstance(item, dict) or not isinstance(item.get("data"), dict):
            raise bad("data", "missing: expected a task object with a 'data' object")
        if "spinlens_analysis" not in item["data"]:
            skipped += 1
            continue
        analysis_id = item["data"]["spinlens_analysis"]
        if isinstance(analysis_id, bool) or not isinstance(analysis_id, int):
            raise bad("data.spinlens_analysis", f"expected an analysis id (a whole number), got {analysis_id!r}")
        if analysis_id in seen:
            raise bad("data.spinlens_analysis", f"analysis {analysis_id} is also {seen[analysis_id]}")
        seen[analysis_id] = where
        found = lookup(analysis_id)
        if found is None:
            raise bad("data.spinlens_analysis", f"no analysis {analysis_id} in this database")
        analysis, corrections = found
        text = analysis.document.text
        if "text" in item["data"] and item["data"]["text"] != text:
            raise bad("data.text", f"is not the text of analysis {analysis_id}")
        latest = _latest_annotation(item, bad)
        if latest is None:
            skipped += 1
            continue
        index, annotation = latest
        regions = _regions(annotation.get("result"), text, f"annotations[{index}].result", bad)
        author = "labelstudio:" + _annotator(annotation)
        out.append(
            Imported(where, analysis_id, author, corrections_to_reach(text, analysis.spans, corrections, regions))
        )
    return out, skipped


def _complaint(where: str, path: str | Path | None) -> Callable[[str, str], InputError]:
    """An error naming the task and the field: ``task 7: annotations[0].result[2].value.end: ...``."""
    return lambda field, problem: InputError(f"{where}: {field}: {problem}", path)


def _latest_annotation(item: dict[str, Any], bad: Callable[[str, str], InputError]) -> tuple[int, dict] | None:
    annotations = item.get("annotations", [])
    if not isinstance(annotations, list):
        raise bad("annotations", "expected a list")
    done = []
    for i, annotation in enumerate(annotations):
        if not isinstance(annotation, dict):
            raise bad(f"annotations[{i}]", "expected an object")
        if not annotation.get("was_cancelled"):
            done.append((str(annotation.get("updated_at") or annotation.get("created_at") or ""), i, annotation))
    if not done:
        return None
    _, i, annotation = max(done, key=lambda d: d[:2])
    return i, annotation


_BY_NAME = {t: t for t in taxonomy.PTC14} | {taxonomy.display_name(t): t for t in taxonomy.PTC14}


def _regions(result: Any, text: str, field: str, bad: Callable[[str, str], InputError]) -> list[Region]:
    if not isinstance(result, list):
        raise bad(field, "expected a list of regions")
    regions: list[Region] = []
    for i, r in enumerate(result):
        if not isinstance(r, dict):
            raise bad(f"{field}[{i}]", "expected an object")
        if r.get("type") != "labels":
            continue  # another control (a relation, a comment): not a span
        value = r.get("value")
        if not isinstance(value, dict):
            raise bad(f"{field}[{i}].value", "expected an object with start, end and labels")
        start, end, labels = value.get("start"), value.get("end"), value.get("labels")
        for name, offset in (("start", start), ("end", end)):
            if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= len(text):
                raise bad(f"{field}[{i}].value.{name}", f"{offset!r} is outside the text (0-{len(text)})")
        if start >= end:  # type: ignore[operator]
            raise bad(f"{field}[{i}].value.end", f"{end} is not after start {start}")
        if not isinstance(labels, list) or not labels:
            raise bad(f"{field}[{i}].value.labels", "expected one or more technique labels")
        unknown = [x for x in labels if not isinstance(x, str) or x not in _BY_NAME]
        if unknown:
            raise bad(f"{field}[{i}].value.labels", f"unknown label {unknown[0]!r}; expected a PTC technique id")
        regions.append((start, end, list(dict.fromkeys(_BY_NAME[x] for x in labels))))  # type: ignore[arg-type]
    return regions


def _annotator(annotation: dict[str, Any]) -> str:
    who = annotation.get("completed_by", annotation.get("annotator"))
    if isinstance(who, dict):
        who = who.get("email") or who.get("id")
    return str(who) if who not in (None, "") else "unknown"
