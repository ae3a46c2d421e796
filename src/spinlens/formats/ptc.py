"""The Propaganda Techniques Corpus (PTC, SemEval-2020 Task 11) layout.

* articles: ``article<ID>.txt``, UTF-8, offsets count a leading BOM as character 0;
* technique labels (TC/FLC): ``ID<TAB>TECHNIQUE<TAB>START<TAB>END``, per article
  (``article<ID>.task-flc-tc.labels``) or merged into one file;
* span labels (SI): ``ID<TAB>START<TAB>END``;
* span template: ``ID<TAB>?<TAB>START<TAB>END`` (spans whose technique is asked for).

Technique names contain commas (``Name_Calling,Labeling``): fields are split on TAB only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from spinlens import taxonomy
from spinlens.document import Document
from spinlens.errors import InputError
from spinlens.formats.text import article_id, decode, read_text


@dataclass(frozen=True, order=True)
class Label:
    """One line of a PTC label file. ``technique`` is None for SI labels and template lines."""

    article_id: str
    start: int
    end: int
    technique: str | None = None


def read_articles(folder: str | Path) -> dict[str, Document]:
    """All ``*.txt`` articles of a folder, by id. A folder without any is an error, not an empty corpus."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("not a directory", folder)
    files = sorted(folder.glob("*.txt"))
    if not files:
        raise InputError("no *.txt articles in this directory", folder)
    docs = {}
    for path in files:
        doc = read_text(path)
        if doc.id in docs:
            raise InputError(f"article id {doc.id!r} occurs twice", path)
        docs[doc.id] = doc
    return docs


def label_files(path: str | Path) -> list[Path]:
    """A label file, or every ``*.labels`` file of a folder (the per-article layout)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.labels"))
        if not files:
            raise InputError("no *.labels files in this directory", path)
        return files
    if not path.is_file():
        raise InputError("no such file or directory", path)
    return [path]


def read_labels(
    path: str | Path,
    articles: Mapping[str, Document] | None = None,
    scheme: str = "ptc14",
) -> list[Label]:
    """Labels from a TC, SI or template file (or a folder of per-article files), in file order.

    Every line must parse: a malformed line, an unknown technique or (when ``articles`` is given) an unknown
    article or an offset outside its text raises InputError naming the file and line. Blank lines are skipped.
    """
    labels: list[Label] = []
    for file in label_files(path):
        text = decode(file.read_bytes(), file)
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            label = parse_line(line, file, number, scheme)
            if articles is not None:
                check_label(label, articles, file, number)
            labels.append(label)
    return labels


def parse_line(line: str, file: str | Path, number: int, scheme: str = "ptc14") -> Label:
    fields = line.rstrip("\r").split("\t")
    if len(fields) == 3:
        aid, start_s, end_s = fields
        if taxonomy.is_technique(start_s, scheme) or start_s == "?":
            raise InputError(
                f"a line with a technique needs 4 fields (ID TECHNIQUE START END), got 3: {line[:80]!r}", file, number
            )
        technique: str | None = None
    elif len(fields) == 4:
        aid, technique, start_s, end_s = fields
        if technique == "?":
            technique = None
        elif not taxonomy.is_technique(technique, scheme):
            valid = ", ".join(t.name for t in taxonomy.techniques(scheme))
            raise InputError(f"unknown technique {technique!r}; expected one of: {valid}", file, number)
    else:
        raise InputError(
            f"expected 3 (ID START END) or 4 (ID TECHNIQUE START END) TAB-separated fields, got {len(fields)}: "
            f"{line[:80]!r}",
            file,
            number,
        )
    try:
        start, end = int(start_s), int(end_s)
    except ValueError:
        raise InputError(f"start and end must be integers, got {start_s!r} and {end_s!r}", file, number) from None
    if start < 0 or end <= start:
        raise InputError(f"need 0 <= start < end, got start={start} end={end}", file, number)
    return Label(aid.strip(), start, end, technique)


def check_label(label: Label, articles: Mapping[str, Document], file: str | Path, number: int) -> None:
    doc = articles.get(label.article_id)
    if doc is None:
        raise InputError(f"article {label.article_id!r} is not among the {len(articles)} articles given", file, number)
    if label.end > len(doc.text):
        raise InputError(
            f"span {label.start}-{label.end} ends past the text of article {label.article_id} "
            f"({len(doc.text)} characters)",
            file,
            number,
        )


def write_labels(labels: Iterable[Label], path: str | Path, template: bool = False) -> int:
    """Write labels: 4 fields when a technique is known, 3 for SI; ``template=True`` writes ``?`` instead."""
    n = 0
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for lab in labels:
            f.write(format_label(lab, template) + "\n")
            n += 1
    return n


def format_label(label: Label, template: bool = False) -> str:
    if template:
        return f"{label.article_id}\t?\t{label.start}\t{label.end}"
    if label.technique is None:
        return f"{label.article_id}\t{label.start}\t{label.end}"
    return f"{label.article_id}\t{label.technique}\t{label.start}\t{label.end}"


def write_per_article(labels: Iterable[Label], folder: str | Path, suffix: str = "task-flc-tc") -> list[Path]:
    """One ``article<ID>.<suffix>.labels`` file per article, as PTC distributes them."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    by_article: dict[str, list[Label]] = {}
    for lab in labels:
        by_article.setdefault(lab.article_id, []).append(lab)
    paths = []
    for aid, labs in by_article.items():
        p = folder / f"article{aid}.{suffix}.labels"
        write_labels(labs, p)
        paths.append(p)
    return paths


def labels_by_article(labels: Iterable[Label]) -> dict[str, list[Label]]:
    out: dict[str, list[Label]] = {}
    for lab in labels:
        out.setdefault(lab.article_id, []).append(lab)
    return out


__all__ = [
    "Label",
    "article_id",
    "format_label",
    "label_files",
    "labels_by_article",
    "read_articles",
    "read_labels",
    "write_labels",
    "write_per_article",
]
