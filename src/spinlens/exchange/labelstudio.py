"""Label Studio both ways: stored analyses out as tasks to review, Label Studio's JSON export back as corrections.

Out (`write_tasks`): one task per analysis with the text, its title and ``data.spinlens_analysis`` (its id), and
the spans as a *prediction* (``model_version`` and a ``score`` per region and per task), never as an annotation:
Label Studio counts a task as done only when a person submits it. The prediction is the analysis as it stands
(`spinlens.review.state`): the model's spans with its scores, and what people decided already with score 1
(rejected spans left out). Labels are the techniques' display names ("Name Calling / Labeling"). Tasks come most
uncertain first (`spinlens.review.state.uncertainty`); the task score is 1 minus that, so sorting Label Studio's
"Prediction score" column upwards gives the same order.

Back (`read_export`): only annotations a person submitted count (not skipped, not drafts, with an annotator);
of several, the latest. Each becomes the fewest corrections that make the analysis match it
(`spinlens.exchange.review`), by ``labelstudio:<annotator>``: a predicted region left untouched in a submitted
task is accepted, a deleted one rejected. Submitting a task also marks its analysis's review complete. A task
nobody submitted changes nothing, so importing an export nobody touched stores nothing.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from spinlens import taxonomy
from spinlens.corrections import CorrectedSpan, Correction, CorrectionIn
from spinlens.document import Analysis
from spinlens.errors import InputError
from spinlens.exchange.review import Region, corrections_to_reach
from spinlens.review.state import Reviewed, uncertainty
from spinlens.textutil import short_title

FROM_NAME, TO_NAME = "label", "text"
Lookup = Callable[[int], tuple[Analysis, list[Correction]] | None]


def label_config() -> str:
    """The labelling config: the 14 PTC techniques by their display names (one or more per region) on the text,
    the title above it."""
    labels = "\n".join(
        f'    <Label value="{html.escape(taxonomy.display_name(t.name))}" background="{t.colour}"/>'
        for t in taxonomy.techniques("ptc14")
    )
    return (
        '<View>\n  <Header value="$title"/>\n'
        f'  <Labels name="{FROM_NAME}" toName="{TO_NAME}" choice="multiple">\n{labels}\n  </Labels>\n'
        f'  <Text name="{TO_NAME}" value="$text"/>\n</View>\n'
    )


def task(r: Reviewed) -> dict[str, Any]:
    """One task: the analysis as it stands as the prediction; no annotation."""
    analysis = r.model
    doc = analysis.document
    prediction = {
        "model_version": f"{analysis.model} {analysis.model_version}",
        "score": round(1.0 - uncertainty(r), 4),
        "result": _results(doc.text, r.spans),
    }
    data = {
        "text": doc.text,
        "title": short_title(doc.title or doc.text) or doc.id,
        "spinlens_analysis": r.analysis_id,
        "spinlens_model": prediction["model_version"],
        "spinlens_decisions": len(r.positives) + len(r.rejected),
    }
    return {"data": data, "predictions": [prediction]}


def tasks(items: Iterable[Reviewed]) -> list[dict[str, Any]]:
    """The tasks, most uncertain first (then by analysis id)."""
    ranked = sorted(items, key=lambda r: (-uncertainty(r), r.analysis_id or 0))
    return [task(r) for r in ranked]


def config_path(output: Path) -> Path:
    """Where the labelling config goes: beside the tasks, ``NAME.label-config.xml``."""
    return output.with_name(output.stem + ".label-config.xml")


def write_tasks(items: Iterable[Reviewed], output: Path) -> tuple[int, Path]:
    """Write the tasks (JSON) and the labelling config beside them; returns (tasks written, the config's path)."""
    written = tasks(items)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(written, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    config = config_path(output)
    config.write_text(label_config(), encoding="utf-8")
    return len(written), config


def _results(text: str, spans: Iterable[CorrectedSpan]) -> list[dict[str, Any]]:
    """One region per span: its techniques' display names, and the model's score (1 once a person decided it)."""
    return [
        {
            "id": f"p{n}",
            "from_name": FROM_NAME,
            "to_name": TO_NAME,
            "type": "labels",
            "origin": "prediction",
            "score": _score(s),
            "value": {
                "start": s.start,
                "end": s.end,
                "text": text[s.start : s.end],
                "labels": [taxonomy.display_name(t) for t in s.techniques],
            },
        }
        for n, s in enumerate(spans)
    ]


def _score(span: CorrectedSpan) -> float:
    if span.status == "model" and span.model_span is not None and span.model_span.score is not None:
        return span.model_span.score
    return 1.0


@dataclass(frozen=True)
class Imported:
    """What one reviewed task says: the corrections that make its analysis match the reviewer's regions."""

    task: str
    analysis_id: int
    author: str
    corrections: list[CorrectionIn]


class ReadBack(NamedTuple):
    """What an export says: the submitted tasks as corrections, how many tasks nobody submitted (or not ours), and
    the tasks whose annotation is older than a later correction by someone else (left alone)."""

    imported: list[Imported]
    skipped: int
    superseded: list[str]


def read_export(
    data: Any, lookup: Lookup, path: str | Path | None = None, users: dict[str, str] | None = None
) -> ReadBack:
    """Label Studio's JSON export as corrections, all checked before any is stored.

    Tasks without ``data.spinlens_analysis`` or without an annotation a person submitted (one with an annotator,
    not cancelled) are skipped; of several annotations the latest counts. An annotation submitted before someone
    else corrected the analysis in spinlens is left alone (``superseded``): reading an old export again never
    undoes a later decision. A task of an unknown analysis or another text, offsets outside the text or an
    unknown label raise `InputError` naming the task and the field.
    """
    if not isinstance(data, list):
        raise InputError("expected a list of tasks (Label Studio's JSON export; not JSON-MIN or CSV)", path)
    out: list[Imported] = []
    seen: dict[int, str] = {}
    skipped, superseded = 0, []
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
        author = "labelstudio:" + _annotator(annotation, users or {})
        if _older_than_others(annotation, author, corrections):
            superseded.append(where)
            continue
        out.append(
            Imported(where, analysis_id, author, corrections_to_reach(text, analysis.spans, corrections, regions))
        )
    return ReadBack(out, skipped, superseded)


def _older_than_others(annotation: dict[str, Any], author: str, corrections: list[Correction]) -> bool:
    """The annotation was submitted before someone else corrected the analysis (an old export read again)."""
    when = str(annotation.get("updated_at") or annotation.get("created_at") or "")
    try:
        submitted = dt.datetime.fromisoformat(when)
    except ValueError:
        return False
    if submitted.tzinfo is None:
        submitted = submitted.replace(tzinfo=dt.UTC)
    return any(c.created > submitted for c in corrections if c.author != author)


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
        if not annotation.get("was_cancelled") and annotation.get("completed_by") not in (None, ""):
            done.append((str(annotation.get("updated_at") or annotation.get("created_at") or ""), i, annotation))
    if not done:
        return None
    _, i, annotation = max(done, key=lambda d: d[:2])
    return i, annotation


_BY_NAME = {t: t for t in taxonomy.PTC14} | {taxonomy.display_name(t): t for t in taxonomy.PTC14}  # either


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
            raise bad(
                f"{field}[{i}].value.labels", f"unknown label {unknown[0]!r}; expected a PTC technique (name or id)"
            )
        regions.append((start, end, list(dict.fromkeys(_BY_NAME[x] for x in labels))))  # type: ignore[arg-type]
    return regions


def _annotator(annotation: dict[str, Any], users: dict[str, str]) -> str:
    """Who submitted it: the email of Label Studio's user where the export or ``users`` gives it, else its id."""
    who = annotation["completed_by"]
    if isinstance(who, dict):
        who = who.get("email") or who.get("id")
    who = users.get(str(who), who)
    return str(who) if who not in (None, "") else "unknown"


def read_users(data: Any, path: str | Path | None = None) -> dict[str, str]:
    """Label Studio's users (the JSON of ``GET /api/users``) as user id -> email (or username)."""
    if isinstance(data, dict) and isinstance(data.get("results"), list):
        data = data["results"]  # a paginated answer
    if not isinstance(data, list):
        raise InputError("expected a list of users (the JSON of Label Studio's GET /api/users)", path)
    names = {}
    for n, user in enumerate(data):
        if not isinstance(user, dict) or "id" not in user or not (user.get("email") or user.get("username")):
            raise InputError(f"user #{n + 1}: expected an object with 'id' and 'email' (or 'username')", path)
        names[str(user["id"])] = str(user.get("email") or user.get("username"))
    return names
