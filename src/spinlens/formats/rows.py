"""One table row (a JSON object or a CSV record) -> `Document`, with the columns named by the user."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from spinlens.document import Document


@dataclass(frozen=True)
class Columns:
    """Which CSV column / JSON field holds what (a date may also be called ``published``)."""

    text: str = "text"
    id: str = "id"
    title: str = "title"
    source: str = "source"
    url: str = "url"
    date: str = "date"


def document_from_row(row: dict[str, Any], columns: Columns, default_id: str, lenient_dates: bool = False) -> Document:
    """ValueError naming the field when the row has no text or a field has the wrong form.

    With ``lenient_dates`` (corpus runs) a date that is neither ISO 8601 nor RFC 2822 does not cost the article:
    it is kept in ``metadata['unparsed_date']`` and the date is left empty.
    """
    text = row.get(columns.text)
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"field {columns.text!r} is missing or empty")
    used = {columns.text, columns.id, columns.title, columns.source, columns.url, columns.date, "published", "language"}
    date_field = columns.date if row.get(columns.date) not in (None, "") else "published"
    if lenient_dates and row.get(date_field) not in (None, ""):
        parsed = _lenient_date(row[date_field])
        if parsed is None:
            row = {**row, "unparsed_date": row[date_field]}
        row = {**row, date_field: parsed}
    try:
        return Document(
            id=str(row.get(columns.id) or default_id),
            text=text,
            title=row.get(columns.title) or None,
            source=row.get(columns.source) or None,
            url=row.get(columns.url) or None,
            published=row.get(date_field) or None,
            language=row.get("language") or None,
            metadata={k: v for k, v in row.items() if k not in used},
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        field = {
            "published": date_field,
            "title": columns.title,
            "source": columns.source,
            "url": columns.url,
        }.get(str(err["loc"][0]), str(err["loc"][0]))
        raise ValueError(f"field {field!r}: {err['msg']}") from None


def _lenient_date(value: Any) -> dt.date | dt.datetime | None:
    from email.utils import parsedate_to_datetime

    from pydantic import TypeAdapter

    try:
        return TypeAdapter(dt.date | dt.datetime).validate_python(value)
    except ValidationError:
        pass
    try:
        return parsedate_to_datetime(str(value))  # "Mon, 06 Sep 2021 16:45:00 +0000", as in feeds and e-mail
    except (TypeError, ValueError):
        return None
