"""SemEval-2021 Task 6 (memes), text subtasks: one JSON array per file despite the ``.txt`` extension.

* subtask 1: ``[{"id", "text", "labels": [technique, ...]}, ...]`` (labels per meme);
* subtask 2: ``[{"id", "text", "labels": [{"start", "end", "technique", "text_fragment"}, ...]}, ...]``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from spinlens import taxonomy
from spinlens.document import Document, Span
from spinlens.errors import InputError
from spinlens.formats.text import decode

SCHEME = "semeval2021"


def read_semeval2021(path: str | Path) -> list[tuple[Document, list[Span] | list[str]]]:
    """(document, labels) per meme: a list of Spans for subtask-2 files, of technique names for subtask 1."""
    path = Path(path)
    try:
        rows = json.loads(decode(path.read_bytes(), path))
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON ({exc.msg})", path, exc.lineno) from None
    if not isinstance(rows, list):
        raise InputError("expected a JSON array of objects with id, text and labels", path)
    out: list[tuple[Document, list[Span] | list[str]]] = []
    for i, row in enumerate(rows):
        where = f"item {i}"
        if not isinstance(row, dict) or not isinstance(row.get("text"), str) or "id" not in row:
            raise InputError(f"{where}: expected an object with 'id' and 'text'", path)
        doc = Document(id=str(row["id"]), text=row["text"])
        labels = row.get("labels", [])
        if not isinstance(labels, list):
            raise InputError(f"{where} (id {doc.id}): 'labels' must be a list", path)
        if all(isinstance(x, str) for x in labels):
            for name in labels:
                _check_name(name, path, where, doc.id)
            out.append((doc, list(labels)))
            continue
        spans = []
        for j, lab in enumerate(labels):
            try:
                start, end, technique = int(lab["start"]), int(lab["end"]), lab["technique"]
            except (KeyError, TypeError, ValueError):
                raise InputError(
                    f"{where} (id {doc.id}), label {j}: needs integer start, end and a technique", path
                ) from None
            _check_name(technique, path, where, doc.id)
            if not 0 <= start < end <= len(doc.text):
                raise InputError(
                    f"{where} (id {doc.id}), label {j}: span {start}-{end} is outside the text "
                    f"({len(doc.text)} characters)",
                    path,
                )
            spans.append(Span(start=start, end=end, technique=technique))
        out.append((doc, spans))
    return out


def write_semeval2021(items: Iterable[tuple[Document, list[Span] | list[str]]], path: str | Path) -> None:
    rows = []
    for doc, labels in items:
        if labels and isinstance(labels[0], Span):
            labs = [
                {"start": s.start, "end": s.end, "technique": s.technique, "text_fragment": s.text_in(doc)}
                for s in labels  # type: ignore[union-attr]
            ]
        else:
            labs = list(labels)  # type: ignore[arg-type]
        rows.append({"id": doc.id, "labels": labs, "text": doc.text})
    Path(path).write_text(json.dumps(rows, ensure_ascii=False, indent=4), encoding="utf-8")


def _check_name(name: object, path: Path, where: str, doc_id: str) -> None:
    if not isinstance(name, str) or not taxonomy.is_technique(name, SCHEME):
        raise InputError(f"{where} (id {doc_id}): unknown SemEval-2021 technique {name!r}", path)
