"""Catalogues of known claims, read from the formats fact-checkers publish.

- CSV with a header: ``id`` and ``claim`` required; ``title``, ``summary``, ``language``, ``date``, ``url``,
  ``verdict``, ``keywords`` (``;``, ``|`` or ``+`` between them) optional.
- The EUvsDisinfo export (``date,id,title,countries,keywords,languages,outlets``): the case URL is the id, the title
  states the disinformation claim (always in English), multi-valued fields are joined with ``+``.
- schema.org ClaimReview JSON-LD: one object, a list, a ``@graph``, a DataFeed, or one object per line (JSONL);
  Google Fact Check Tools' ``{"claims": [{"text", "claimReview": [...]}]}`` too.
- JSONL of plain records with the CSV's fields.

Only the text that states a claim (``claim``, and a ``title`` where the catalogue gives one) is ever matched against.
A debunk's disproof (EUvsDisinfo's ``disproof``, ClaimReview's ``reviewBody``, any ``disproof``/``rebuttal``/
``explanation`` column) is never read at all: it repeats the claim's words while saying the opposite, so it would
match sentences that refute the claim.

Every reader returns the good claims and one line per bad row (file, line or item, field, reason); identical claims
(the same text up to case, Unicode form and spaces) are kept once, the others' ids listed in ``duplicates``.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from spinlens.errors import InputError

MAX_CLAIM_CHARS = 1000  # a claim is one statement; a longer "claim" is an article or a disproof pasted by mistake
FORMATS = ("csv", "euvsdisinfo", "claimreview", "jsonl")
EUVSDISINFO_HEADER = ("date", "id", "title", "countries", "keywords", "languages", "outlets")
NEVER_READ = frozenset({"disproof", "rebuttal", "explanation", "reviewbody", "review_body", "debunk", "fact_check"})


class Claim(BaseModel):
    """One known claim of a catalogue."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="Unique in its catalogue (EUvsDisinfo: the case URL)")
    claim: str = Field(description="The claim as the catalogue states it: what sentences are matched against")
    title: str | None = Field(default=None, description="A short name of the claim, also matched against")
    summary: str | None = Field(default=None, description="Shown, never matched against")
    language: str | None = Field(default=None, description="Language of the claim's text")
    date: str | None = Field(default=None, description="ISO date the claim was catalogued or reviewed")
    url: str | None = Field(default=None, description="Where it was debunked")
    verdict: str | None = None
    keywords: list[str] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict, description="Other fields kept for display (outlets, ...)")
    duplicates: list[str] = Field(default_factory=list, description="Ids of identical claims merged into this one")

    def indexed_texts(self) -> list[str]:
        """What is matched against: the claim, and its title when that says something else."""
        texts = [self.claim]
        if self.title and text_key(self.title) != text_key(self.claim):
            texts.append(self.title)
        return texts


@dataclass
class ReadResult:
    """Good claims (de-duplicated), one line per bad row, and how many identical claims were merged."""

    claims: list[Claim] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    merged: int = 0
    rows: int = 0


_SPACE = re.compile(r"\s+")


def text_key(text: str) -> str:
    """Identity of a claim's text up to Unicode form, case and whitespace (the store's `content_key`)."""
    from spinlens.store.schema import content_key

    return content_key(text)


def detect_format(path: Path) -> str:
    """The format of a catalogue file, from its name and its first bytes."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        with path.open(encoding="utf-8-sig", newline="") as f:
            header = next(csv.reader(f, delimiter="\t" if suffix == ".tsv" else ","), [])
        return "euvsdisinfo" if tuple(h.strip().lower() for h in header) == EUVSDISINFO_HEADER else "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in (".json", ".jsonld"):
        return "claimreview"
    raise InputError(f"cannot tell the catalogue's format from its name; give --format ({', '.join(FORMATS)})", path)


def read_catalogue(path: str | Path, fmt: str | None = None) -> ReadResult:
    """Read a catalogue file; `InputError` only when the file as a whole cannot be read (bad rows are listed)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path)
    fmt = fmt or detect_format(path)
    readers = {"csv": _read_csv, "euvsdisinfo": _read_euvsdisinfo, "claimreview": _read_json, "jsonl": _read_jsonl}
    if fmt not in readers:
        raise InputError(f"unknown catalogue format {fmt!r}; known: {', '.join(FORMATS)}", path)
    result = ReadResult()
    try:
        rows = list(readers[fmt](path, result))
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", path) from None
    _collect(rows, result)
    return result


# --- rows -> claims ----------------------------------------------------------------------------------------------

# (where, fields) -> a claim, or the reason why not. "where" is "file:line" or "file item 3".
_Row = tuple[str, dict[str, Any]]


def _collect(rows: list[_Row], result: ReadResult) -> None:
    first_line: dict[str, tuple[str, str]] = {}  # id -> (where, text key)
    by_text: dict[str, int] = {}  # text key -> index in result.claims
    for where, fields in rows:
        result.rows += 1
        claim, problem = _claim(fields)
        if claim is None:
            result.problems.append(f"{where}: {problem}")
            continue
        key = text_key(claim.claim)
        if claim.id in first_line:
            seen_where, seen_key = first_line[claim.id]
            if seen_key != key:
                result.problems.append(f"{where}: field id: {claim.id!r} already used for another claim ({seen_where})")
            else:
                result.merged += 1
            continue
        first_line[claim.id] = (where, key)
        if key in by_text:
            kept = result.claims[by_text[key]]
            result.claims[by_text[key]] = kept.model_copy(update={"duplicates": [*kept.duplicates, claim.id]})
            result.merged += 1
            continue
        by_text[key] = len(result.claims)
        result.claims.append(claim)


def _claim(fields: dict[str, Any]) -> tuple[Claim | None, str]:
    if "__problem__" in fields:
        return None, fields["__problem__"]
    names = fields.pop("__names__", {})
    fields = {k: v for k, v in fields.items() if k not in NEVER_READ}
    for name in ("id", "claim"):
        value = fields.get(name)
        if not isinstance(value, str) or not value.strip():
            return None, f"field {names.get(name, name)}: missing or empty"
    for name, value in fields.items():
        if isinstance(value, str) and (problem := _unstorable(value)):
            return None, f"field {name}: {problem}"
    text = _SPACE.sub(" ", fields["claim"]).strip()
    if len(text) > MAX_CLAIM_CHARS:
        return None, (
            f"field {names.get('claim', 'claim')}: {len(text):,} characters; a claim is one statement of at most {MAX_CLAIM_CHARS:,} "
            "(an article or a disproof?)"
        )
    date = fields.get("date")
    if date not in (None, ""):
        try:
            date = _iso_date(str(date))
        except ValueError:
            return None, f"field date: {date!r} is not a date (YYYY-MM-DD)"
    url = fields.get("url")
    if url not in (None, "") and not re.match(r"https?://\S+$", str(url).strip()):
        return None, f"field url: {str(url)[:80]!r} is not an http(s) address"
    keywords = fields.get("keywords") or []
    if isinstance(keywords, str):
        keywords = [k.strip() for k in re.split(r"[;|+,]", keywords) if k.strip()]
    try:
        claim = Claim(
            id=fields["id"].strip(),
            claim=text,
            title=_text(fields.get("title")),
            summary=_text(fields.get("summary")),
            language=_text(fields.get("language")),
            date=date or None,
            url=str(url).strip() if url else None,
            verdict=_text(fields.get("verdict")),
            keywords=[str(k) for k in keywords],
            extra={k: v for k, v in (fields.get("extra") or {}).items() if v not in (None, "", [])},
        )
    except ValueError as exc:  # pydantic: a field of the wrong type
        first = exc.errors()[0] if hasattr(exc, "errors") else {"loc": ("?",), "msg": str(exc)}  # type: ignore[attr-defined]
        return None, f"field {'.'.join(map(str, first['loc']))}: {first['msg']}"
    return claim, ""


def _text(value: Any) -> str | None:
    if value is None:
        return None
    value = _SPACE.sub(" ", str(value)).strip()
    return value or None


def _unstorable(text: str) -> str | None:
    from spinlens.store.schema import unstorable

    return unstorable(text)


def _iso_date(value: str) -> str:
    value = value.strip()
    try:
        return dt.date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).date().isoformat()


# --- CSV ---------------------------------------------------------------------------------------------------------


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line where the record starts, fields by lower-case header name) of a CSV or TSV file."""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        header = [h.strip().lower() for h in next(reader, [])]
        if not header:
            raise InputError("empty file: expected a header line", path)
        line = reader.line_num + 1
        for record in reader:
            start, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(header):
                yield start, {"__error__": f"{len(record)} fields where the header has {len(header)}"}
                continue
            yield start, dict(zip(header, record, strict=True))


def _read_csv(path: Path, result: ReadResult) -> Iterator[_Row]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        header = {h.strip().lower() for h in next(csv.reader(f, delimiter="\t" if path.suffix == ".tsv" else ","), [])}
    missing = [name for name in ("id", "claim") if name not in header]
    if missing:
        raise InputError(
            f"the header has no {' and no '.join(missing)} column (columns: {', '.join(sorted(header))})", path
        )
    known = {"id", "claim", "title", "summary", "language", "date", "url", "verdict", "keywords"}
    for line, fields in _csv_rows(path):
        if "__error__" in fields:
            yield f"{path}:{line}", {"id": None, "__problem__": fields["__error__"]}
            continue
        extra = {k: v for k, v in fields.items() if k not in known and k not in NEVER_READ}
        yield f"{path}:{line}", {**{k: v for k, v in fields.items() if k in known}, "extra": extra}


def _read_euvsdisinfo(path: Path, result: ReadResult) -> Iterator[_Row]:
    for line, fields in _csv_rows(path):
        if "__error__" in fields:
            yield f"{path}:{line}", {"id": None, "__problem__": fields["__error__"]}
            continue
        yield (
            f"{path}:{line}",
            {
                "id": fields.get("id"),
                "claim": fields.get("title"),
                "summary": fields.get("summary"),
                "language": "en",  # EUvsDisinfo states every claim in English; `languages` are the outlets'
                "date": fields.get("date"),
                "url": fields.get("id"),
                "verdict": "Disinformation",
                "keywords": _plus(fields, "keywords"),
                "extra": {
                    "countries": _plus(fields, "countries"),
                    "languages": _plus(fields, "languages"),
                    "outlets": _plus(fields, "outlets"),
                },
            },
        )


def _plus(fields: dict[str, str], name: str) -> list[str]:
    return [v.strip() for v in (fields.get(name) or "").split("+") if v.strip()]


# --- JSON-LD and JSONL -------------------------------------------------------------------------------------------


def _read_json(path: Path, result: ReadResult) -> Iterator[_Row]:
    text = path.read_text(encoding="utf-8-sig")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.lineno > 1 and _looks_like_jsonl(text):
            yield from _read_jsonl(path, result)
            return
        raise InputError(f"not JSON: {exc.msg} (column {exc.colno})", path, exc.lineno) from None
    found = list(_records(data, "item"))
    if not found:
        raise InputError("no ClaimReview (or claim record) found in this JSON", path)
    for where, fields in found:
        yield f"{path} {where}", fields


def _read_jsonl(path: Path, result: ReadResult) -> Iterator[_Row]:
    with path.open(encoding="utf-8-sig") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                yield f"{path}:{n}", {"id": None, "__problem__": f"not JSON: {exc.msg} (column {exc.colno})"}
                continue
            records = list(_records(data, "item"))
            if not records:
                yield f"{path}:{n}", {"id": None, "__problem__": "neither a ClaimReview nor a record with id and claim"}
            for where, fields in records:
                yield (f"{path}:{n}" if len(records) == 1 else f"{path}:{n} {where}"), fields


def _looks_like_jsonl(text: str) -> bool:
    lines = [line for line in text.splitlines() if line.strip()]
    return len(lines) > 1 and all(line.lstrip().startswith("{") for line in lines[:5])


def _records(data: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every ClaimReview, Fact Check Tools claim or plain claim record inside parsed JSON, with where it sits."""
    if isinstance(data, list):
        for i, item in enumerate(data):
            yield from _records(item, f"{where} {i + 1}" if where == "item" else f"{where}[{i}]")
        return
    if not isinstance(data, dict):
        return
    types = data.get("@type")
    types = types if isinstance(types, list) else [types]
    if "ClaimReview" in types or "claimReviewed" in data:
        yield where, _from_claimreview(data)
    elif "claimReview" in data and "text" in data:  # Google Fact Check Tools API
        yield where, _from_factcheck_tools(data)
    elif "id" in data and "claim" in data:
        known = {"id", "claim", "title", "summary", "language", "date", "url", "verdict", "keywords"}
        yield where, {**{k: data[k] for k in known if k in data}, "extra": {}}
    for key in ("@graph", "dataFeedElement", "item", "claims", "itemListElement"):
        if key in data and isinstance(data[key], list | dict):
            yield from _records(data[key], key)


def _name(value: Any) -> str | None:
    """A schema.org Thing's name (or a plain string)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("name") or value.get("alternateName")
    return str(value) if value not in (None, "") else None


def _from_claimreview(data: dict[str, Any]) -> dict[str, Any]:
    item = data.get("itemReviewed") if isinstance(data.get("itemReviewed"), dict) else {}
    rating = data.get("reviewRating") if isinstance(data.get("reviewRating"), dict) else {}
    language = data.get("inLanguage")
    if isinstance(language, dict):
        language = language.get("alternateName") or language.get("name")
    return {
        "id": data.get("@id") or data.get("url"),
        "claim": data.get("claimReviewed"),
        "language": language,
        "date": data.get("datePublished") or item.get("datePublished"),
        "url": data.get("url"),
        "verdict": rating.get("alternateName") or rating.get("name") or _rating_value(rating),
        "keywords": data.get("keywords") or [],
        "__names__": {"id": "@id/url", "claim": "claimReviewed"},
        "extra": {
            "publisher": _name(data.get("author")),
            "claimant": _name(item.get("author")),
            "claim_date": item.get("datePublished"),
        },
    }


def _rating_value(rating: dict[str, Any]) -> str | None:
    if "ratingValue" not in rating:
        return None
    best, worst = rating.get("bestRating"), rating.get("worstRating")
    return f"{rating['ratingValue']}" + (f" (of {worst}-{best})" if best is not None and worst is not None else "")


def _from_factcheck_tools(data: dict[str, Any]) -> dict[str, Any]:
    reviews = [r for r in data.get("claimReview") or [] if isinstance(r, dict)]
    review = reviews[0] if reviews else {}
    return {
        "id": review.get("url"),
        "claim": data.get("text"),
        "language": review.get("languageCode"),
        "date": review.get("reviewDate") or data.get("claimDate"),
        "url": review.get("url"),
        "verdict": review.get("textualRating"),
        "__names__": {"id": "claimReview.url", "claim": "text"},
        "extra": {"publisher": _name(review.get("publisher")), "claimant": data.get("claimant")},
    }
