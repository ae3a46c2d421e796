"""The genre set: annotated English-language state-media opinion, statements, headlines and posts (issue 19).

The data lives in ``spinlens/data/genre/`` (see its README): ``sentences.jsonl`` (sentences grouped into short
docs), ``short_texts.jsonl`` (one-line textbook examples and neutral one-liners) and ``wire_reports.jsonl``
(neutral wire reports, no spans), the checks; and two sets that only train, never scored (`TRAINING_ONLY`):
``contrast.jsonl`` (docs that set neutral reports quoting officials' words beside state-media texts adopting
them) and ``textbook.jsonl`` (one-liners per technique and neutral ones, other texts than the checks'). Each line
is one JSON object::

    {"id": "g0001", "doc": "d001", "genre": "op-ed", "source": "written", "text": "...",
     "spans": [{"quote": "Kiev regime", "occurrence": 1, "technique": "Name_Calling,Labeling"}]}

A span names its characters by ``quote`` (an exact substring of ``text``) and ``occurrence`` (which occurrence of
it, 1-based, counting overlapping ones), so that a reviewer can read and check it without counting characters.
`load` resolves them into PTC offsets (start inclusive, end exclusive, Python ``str`` indices) and refuses a
file with an unknown technique, a quote that is not there, or a span that starts or ends inside a word.

The JSONL files are compiled from the annotator's markup files (``*.ann`` beside them, easier to read and review:
``[the Kiev regime]{NC}``); `compile_markup` does it and the tests check that both agree.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from spinlens import taxonomy
from spinlens.document import Document
from spinlens.errors import InputError
from spinlens.evaluate.folds import SEED, article_folds
from spinlens.formats.ptc import Label

if TYPE_CHECKING:  # the encoder stack (numpy, onnx/torch) is imported only when examples are built
    from spinlens.detect.encoder import Encoder
    from spinlens.training.examples import Example

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "genre"
SETS = ("sentences", "short_texts", "wire_reports", "contrast", "textbook")
# How a set's markup is laid out: "doc" (every line an item of its block's doc), "line" (every line an item of its
# own), "block" (a block is one item, its lines joined by spaces)
LAYOUT = {"sentences": "doc", "contrast": "doc", "short_texts": "line", "textbook": "line", "wire_reports": "block"}
# Sets that only train (never scored, never a check): their items teach what the checks measure, on other texts
TRAINING_ONLY = ("contrast", "textbook")
ID_PREFIX = {"sentences": "g", "contrast": "c", "short_texts": "", "textbook": "t-"}
GENRES = ("op-ed", "statement", "headline", "post", "wire")

# Markup tags -> PTC technique names (exact strings of the PTC-14 scheme)
TAGS: dict[str, str] = {
    "NC": "Name_Calling,Labeling",
    "LL": "Loaded_Language",
    "REP": "Repetition",
    "EXAG": "Exaggeration,Minimisation",
    "DOUBT": "Doubt",
    "FEAR": "Appeal_to_fear-prejudice",
    "FLAG": "Flag-Waving",
    "CAUSE": "Causal_Oversimplification",
    "SLOGAN": "Slogans",
    "AUTH": "Appeal_to_Authority",
    "BW": "Black-and-White_Fallacy",
    "TTC": "Thought-terminating_Cliches",
    "WHAT": "Whataboutism,Straw_Men,Red_Herring",
    "BAND": "Bandwagon,Reductio_ad_hitlerum",
}
assert set(TAGS.values()) == set(taxonomy.PTC14)


@dataclass(frozen=True)
class GenreItem:
    """One annotated text: a sentence of a doc, a one-liner or a whole wire report."""

    id: str
    doc: str
    genre: str
    source: str
    text: str
    labels: tuple[Label, ...]  # article_id == id; offsets into text


@dataclass(frozen=True)
class GenreCorpus:
    """What the trainer takes (`spinlens.training.examples.build_examples`), plus the doc group of each article."""

    articles: dict[str, Document]
    labels: list[Label]
    groups: dict[str, str]  # article id -> doc id (fold by this)


# ---------------------------------------------------------------- reading and checking


def occurrences(text: str, quote: str) -> list[int]:
    """Start of every occurrence of ``quote`` in ``text``, overlapping ones included."""
    starts, i = [], text.find(quote)
    while i >= 0:
        starts.append(i)
        i = text.find(quote, i + 1)
    return starts


def on_word_boundaries(text: str, start: int, end: int) -> bool:
    """No leading/trailing space, and the span neither starts nor ends inside a word."""
    piece = text[start:end]
    if not piece or piece != piece.strip():
        return False
    cut_start = start > 0 and text[start - 1].isalnum() and text[start].isalnum()
    cut_end = end < len(text) and text[end - 1].isalnum() and text[end].isalnum()
    return not (cut_start or cut_end)


def parse_item(obj: object, path: Path, line: int) -> GenreItem:
    if not isinstance(obj, dict):
        raise InputError("expected a JSON object", path, line)
    for field in ("id", "genre", "source", "text", "spans"):
        if field not in obj:
            raise InputError(f"missing field {field!r}", path, line)
    iid, text = str(obj["id"]), obj["text"]
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{iid}: 'text' must be a non-empty string", path, line)
    if obj["genre"] not in GENRES:
        raise InputError(f"{iid}: unknown genre {obj['genre']!r}; expected one of {', '.join(GENRES)}", path, line)
    labels = []
    for k, span in enumerate(obj["spans"], start=1):
        where = f"{iid} span {k}"
        technique, quote, occ = span.get("technique"), span.get("quote"), span.get("occurrence", 1)
        if technique not in taxonomy.PTC14:
            raise InputError(f"{where}: unknown technique {technique!r}; expected a PTC-14 name", path, line)
        if not isinstance(quote, str) or not quote:
            raise InputError(f"{where}: 'quote' must be a non-empty string", path, line)
        starts = occurrences(text, quote)
        if not isinstance(occ, int) or not 1 <= occ <= len(starts):
            raise InputError(f"{where}: {quote!r} occurs {len(starts)} time(s), occurrence {occ!r} asked", path, line)
        start = starts[occ - 1]
        end = start + len(quote)
        if not on_word_boundaries(text, start, end):
            raise InputError(f"{where}: {quote!r} starts or ends inside a word (or on a space)", path, line)
        labels.append(Label(iid, start, end, technique))
    if len(set(labels)) != len(labels):
        raise InputError(f"{iid}: the same span and technique is given twice", path, line)
    doc = str(obj.get("doc") or iid)
    return GenreItem(iid, doc, obj["genre"], str(obj["source"]), text, tuple(sorted(labels)))


def load(name: str = "sentences", folder: Path = DATA_DIR) -> list[GenreItem]:
    """Every item of one set (one of `SETS`), checked, in file order."""
    if name not in SETS:
        raise InputError(f"unknown genre set {name!r}; expected one of {', '.join(SETS)}")
    path = folder / f"{name}.jsonl"
    if not path.is_file():
        raise InputError("no such file", path)
    items: list[GenreItem] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"not JSON: {e.msg}", path, number) from None
        item = parse_item(obj, path, number)
        if item.id in seen:
            raise InputError(f"id {item.id!r} occurs twice", path, number)
        seen.add(item.id)
        items.append(item)
    return items


def corpus(name: str = "sentences", unit: str = "sentence", prefix: str = "genre-") -> GenreCorpus:
    """Documents and PTC labels for training: one article per item (``unit="sentence"``) or, for the sentences
    set, one per doc with its sentences one a line, as PTC articles are (``unit="doc"``). Ids get ``prefix`` so
    that they never meet PTC's."""
    items = load(name)
    articles: dict[str, Document] = {}
    labels: list[Label] = []
    groups: dict[str, str] = {}
    if unit == "sentence":
        for it in items:
            aid = prefix + it.id
            articles[aid] = Document(id=aid, text=it.text, source=it.source, metadata={"genre": it.genre})
            labels += [Label(aid, x.start, x.end, x.technique) for x in it.labels]
            groups[aid] = prefix + it.doc
        return GenreCorpus(articles, labels, groups)
    if unit != "doc":
        raise InputError(f"unknown unit {unit!r}; expected 'sentence' or 'doc'")
    by_doc: dict[str, list[GenreItem]] = {}
    for it in items:
        by_doc.setdefault(it.doc, []).append(it)
    for doc, members in by_doc.items():
        aid = prefix + doc
        offset, parts = 0, []
        for it in members:
            parts.append(it.text)
            labels += [Label(aid, x.start + offset, x.end + offset, x.technique) for x in it.labels]
            offset += len(it.text) + 1
        articles[aid] = Document(id=aid, text="\n".join(parts) + "\n", metadata={"genre": members[0].genre})
        groups[aid] = aid
    return GenreCorpus(articles, labels, groups)


def genre_folds(n: int = 5, seed: int = SEED, name: str = "sentences") -> dict[str, int]:
    """Fold (0..n-1) of every item id of a set, folded by doc: the sentences of one doc are always together."""
    items = load(name)
    doc_fold = article_folds([it.doc for it in items], n, seed)
    return {it.id: doc_fold[it.doc] for it in items}


def genre_examples(
    encoder: Encoder, cache_dir: Path | None = None, name: str = "sentences", unit: str = "sentence"
) -> list[Example]:
    """The set as training examples (`spinlens.training.examples.Example`), like ``extra_examples``."""
    from spinlens.training.examples import build_examples

    c = corpus(name, unit)
    return build_examples(c.articles, c.labels, encoder, cache_dir)


# ---------------------------------------------------------------- the annotator's markup

_SPAN_END = re.compile(r"\]\{([A-Z+]+)\}")


def parse_markup(line: str) -> tuple[str, list[tuple[int, int, str]]]:
    """``We reject [the Kiev regime]{NC}'s [lies]{LL+REP}`` -> plain text and (start, end, technique) spans.

    Brackets nest (``[If [the junta]{NC} wins, Europe burns]{FEAR}``); ``+`` puts several techniques on a span.
    """
    out: list[str] = []
    stack: list[int] = []
    spans: list[tuple[int, int, str]] = []
    i, pos = 0, 0
    while i < len(line):
        ch = line[i]
        if ch == "[":
            stack.append(pos)
            i += 1
        elif ch == "]":
            m = _SPAN_END.match(line, i)
            if not m or not stack:
                raise ValueError(f"unbalanced ']' at column {i}: {line!r}")
            start = stack.pop()
            for tag in m.group(1).split("+"):
                if tag not in TAGS:
                    raise ValueError(f"unknown tag {tag!r} in {line!r}")
                spans.append((start, pos, TAGS[tag]))
            i = m.end()
        elif ch in "{}":
            raise ValueError(f"stray {ch!r} at column {i}: {line!r}")
        else:
            out.append(ch)
            pos += 1
            i += 1
    if stack:
        raise ValueError(f"unclosed '[' in {line!r}")
    return "".join(out), spans


def _span_record(text: str, start: int, end: int, technique: str) -> dict[str, object]:
    quote = text[start:end]
    return {"quote": quote, "occurrence": occurrences(text, quote).index(start) + 1, "technique": technique}


def compile_markup(path: Path, name: str) -> list[dict[str, object]]:
    """Records of one markup file.

    ``== d001 op-ed [SOURCE]`` opens a block (id, genre, source: ``written`` unless a URL is given); each line
    after it is a sentence, optionally starting with ``>GENRE `` (another genre for this line) and/or
    ``@URL `` (a short excerpt quoted from that page). ``#`` starts a comment line. ``sentences``: every line is
    an item of its block's doc; ``short_texts``: every line is an item of its own; ``wire_reports``: a block is one
    item, its lines joined by spaces (`LAYOUT` says which of the three each set is).
    """
    layout = LAYOUT[name]
    records: list[dict[str, object]] = []
    block: dict[str, object] | None = None
    lines_of_block: list[tuple[str, list[tuple[int, int, str]], str, str]] = []
    counters: dict[str, int] = {}

    def flush() -> None:
        if block is None or layout != "block" or not lines_of_block:
            return
        text, spans = "", []
        for t, s, _, _ in lines_of_block:
            offset = len(text) + (1 if text else 0)
            spans += [(a + offset, b + offset, tech) for a, b, tech in s]
            text += (" " if text else "") + t
        records.append(
            _record(str(block["id"]), str(block["id"]), str(block["genre"]), str(block["source"]), text, spans)
        )

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("== "):
            flush()
            parts = line[3:].split()
            if len(parts) not in (2, 3) or parts[1] not in GENRES:
                raise InputError(f"block header must be '== ID GENRE [SOURCE]': {line!r}", path, number)
            block = {"id": parts[0], "genre": parts[1], "source": parts[2] if len(parts) == 3 else "written"}
            lines_of_block = []
            continue
        if block is None:
            raise InputError("a text line before any '== ID GENRE' block header", path, number)
        genre, source = str(block["genre"]), str(block["source"])
        while line[:1] in (">", "@"):  # the two prefixes, in either order
            marker = line[0]
            prefix, _, line = line[1:].partition(" ")
            line = line.lstrip()
            if marker == ">" and prefix in GENRES:
                genre = prefix
            elif marker == "@" and prefix.startswith(("http://", "https://")):
                source = prefix
            else:
                raise InputError(f"a line prefix must be >GENRE or @URL, got {marker}{prefix!r}", path, number)
        try:
            text, spans = parse_markup(line.strip())
        except ValueError as e:
            raise InputError(str(e), path, number) from None
        if layout == "block":
            lines_of_block.append((text, spans, genre, source))
        elif layout == "doc":
            counters["g"] = counters.get("g", 0) + 1
            iid = f"{ID_PREFIX[name]}{counters['g']:04d}"
            records.append(_record(iid, str(block["id"]), genre, source, text, spans))
        else:
            key = next((k for k, v in TAGS.items() if spans and v == spans[0][2]), "neutral").lower()
            counters[key] = counters.get(key, 0) + 1
            iid = f"{ID_PREFIX[name]}{key}-{counters[key]:02d}"
            records.append(_record(iid, iid, genre, source, text, spans))
    flush()
    return records


def _record(
    iid: str, doc: str, genre: str, source: str, text: str, spans: list[tuple[int, int, str]]
) -> dict[str, object]:
    ordered = sorted(spans)
    return {
        "id": iid,
        "doc": doc,
        "genre": genre,
        "source": source,
        "text": text,
        "spans": [_span_record(text, a, b, t) for a, b, t in ordered],
    }


def build(folder: Path = DATA_DIR) -> dict[str, int]:
    """Compile every ``NAME.ann`` of the folder into ``NAME.jsonl``; returns the number of items of each."""
    counts = {}
    for name in SETS:
        src = folder / f"{name}.ann"
        if not src.is_file():
            continue
        records = compile_markup(src, name)
        with open(folder / f"{name}.jsonl", "w", encoding="utf-8", newline="\n") as f:
            for r in records:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        load(name, folder)  # refuse to leave a file that does not check
        counts[name] = len(records)
    return counts


def counts_tables() -> str:
    """The README's count tables (Markdown): spans and items per technique, items per genre."""
    from collections import Counter

    sents, short = load("sentences"), load("short_texts")
    spans = Counter(x.technique for it in sents for x in it.labels)
    per_sentence = Counter(t for it in sents for t in {x.technique for x in it.labels})
    per_short = Counter(t for it in short for t in {x.technique for x in it.labels})
    neutral = [it for it in sents if not it.labels]
    lines = ["| technique | spans | sentences with it | short texts |", "|---|---:|---:|---:|"]
    for t in sorted(taxonomy.PTC14, key=lambda t: (-spans[t], t)):
        lines.append(f"| `{t}` | {spans[t]} | {per_sentence[t]} | {per_short[t]} |")
    share = round(100 * len(neutral) / len(sents))
    n_short = sum(1 for it in short if not it.labels)
    lines.append(f"| no span (neutral) | - | {len(neutral)} ({share}%) | {n_short} |")
    lines.append(f"| total | {sum(spans.values())} | {len(sents)} | {len(short)} |")
    lines += ["", "| genre | sentences | of them neutral | short texts |", "|---|---:|---:|---:|"]
    by_genre, neutral_genre = Counter(it.genre for it in sents), Counter(it.genre for it in neutral)
    short_genre = Counter(it.genre for it in short)
    for g in GENRES:
        lines.append(f"| {g} | {by_genre[g]} | {neutral_genre[g]} | {short_genre[g]} |")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m spinlens.training.genre: rebuild the JSONL files from the markup
    for set_name, count in build().items():
        print(f"{set_name}: {count} items")
    print(counts_tables())
