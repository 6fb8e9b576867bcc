"""Turning one row of a lead file into checked values and the activities it implies.

Nothing here touches the database: a whole file is parsed and every error collected before
the import writes anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.text import slugify

from handoff.instants import OUT_OF_WINDOW, out_of_window
from leads.importing.presets import (
    ATTRIBUTE_PREFIX,
    ATTRIBUTES,
    COUNT,
    CREATED,
    DATE,
    EMAIL,
    EXTERNAL_ID,
    INTEGER,
    JSON_OBJECT,
    NUMBER,
    PHONE,
    SOURCE,
    SOURCE_ACTIVITIES,
    TEXT,
    YES_NO,
    ChoiceActivity,
    Column,
    CountActivity,
    FlagActivity,
    Mapping,
)
from leads.models import COMPANY_SIZE_MAX, POSITIVE_INTEGER_MAX, ActivityKind, Lead, Source

# Cells that mean "no value": what web forms and spreadsheets write for an unanswered
# question. Compared case-insensitively.
PLACEHOLDERS = frozenset({"", "select", "n/a", "na", "null", "-"})
# Spreadsheets show a leading apostrophe as "this is text"; Handoff's own export writes one
# before a cell that would otherwise run as a formula. Reading it back removes it.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

YES = frozenset({"yes", "y", "true", "1"})
NO = frozenset({"no", "n", "false", "0"})

_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:[.,]\d+)?e[+-]?\d+$", re.IGNORECASE)
_PHONE = re.compile(r"^\+?[\d\s().\-/]+(?:\s*(?:x|ext\.?|#)\s*\d+)?$", re.IGNORECASE)
_THOUSANDS = re.compile(r"^\d{1,3}(?:[, ]\d{3})+$")
# Currency signs and ISO codes that CRM exports put around amounts ("USD 1,500,000.00").
_CURRENCY = re.compile(r"^(?:[A-Z]{3}\s*|[$€£¥])?(.*?)(?:\s*[A-Z]{3}|\s*[$€£¥])?$")
_RANGE = re.compile(r"^(\d[\d,]*)\s*(?:-|–|to)\s*\d[\d,]*$")

INVALID_EMAIL = "'{value}' is not a valid email address"
SCIENTIFIC_PHONE = (
    "'{value}' is a number a spreadsheet rewrote in scientific notation, which loses digits; "
    "format the column as text and export the file again"
)
INVALID_PHONE = "'{value}' is not a phone number"
NOT_A_NUMBER = "'{value}' is not a number"
NOT_A_WHOLE_NUMBER = "'{value}' is not a whole number"
NEGATIVE = "'{value}' cannot be negative"
TOO_LARGE = "'{value}' is more than {limit:,}, the largest value this column takes"
NOT_YES_NO = "'{value}' is not Yes or No"
NOT_JSON_OBJECT = "'{value}' is not a JSON object of names and values"
NOT_A_DATE = "'{value}' is not a date in ISO format (2024-03-31 or 2024-03-31T14:05:00)"
NOT_A_DATE_FORMATS = "'{value}' is not a date in ISO format or in {formats}"
NOT_A_REAL_DATE = "'{value}' is written as an ISO date but no such date exists ({reason})"
_ISO_DATE_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:$|[T ])")
TOO_LONG = "the value is {length} characters long; the most this field holds is {limit}"
BAD_SOURCE = "'{value}' cannot be used as a source name"
NO_IDENTITY = (
    "Row {row}: the row has no email and no external id, so a later import could not "
    "recognise the lead; add one of them"
)
OVERFLOW = (
    "Row {row}: the row has {count} cells but the header has {width} columns; a value "
    "holding the delimiter is probably missing its quotes"
)


@dataclass(frozen=True)
class RowError:
    """One problem in the file. `row` is None for a problem with the file as a whole."""

    message: str
    row: int | None = None
    column: str = ""

    def __str__(self) -> str:
        if self.row is None:
            return self.message
        if self.column:
            return f"Row {self.row}, {self.column}: {self.message}"
        return self.message


@dataclass(frozen=True)
class PlannedActivity:
    kind: str
    detail: str
    quantity: int
    occurred_at: datetime
    # Whether the file gave the time; an undated activity is stamped with the import time.
    dated: bool

    def key(self) -> tuple:
        """What makes two activities the same one, so a re-import does not add it twice."""
        return (self.kind, self.detail, self.quantity, self.occurred_at if self.dated else None)


@dataclass
class ParsedRow:
    number: int
    # Lead fields this row sets (blank cells are left out).
    fields: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    source_name: str = ""
    created: datetime | None = None
    activities: list[PlannedActivity] = field(default_factory=list)

    @property
    def email(self) -> str:
        return self.fields.get("email", "")

    @property
    def external_id(self) -> str:
        return self.fields.get(EXTERNAL_ID, "")


class CellRefused(ValueError):
    """A cell that cannot be read as its column says; the message quotes the value."""


def cell_text(value: Any) -> str:
    """A cell as text: spreadsheet numbers without a spurious '.0', surrounding space gone."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, float) and value.is_integer():
        return str(int(value))
    else:
        text = str(value).strip()
    if text[:1] == "'" and len(text) > 1 and text[1] in FORMULA_TRIGGERS:
        text = text[1:]
    return text


_LONGEST_PLACEHOLDER = max(len(placeholder) for placeholder in PLACEHOLDERS)


def is_blank(text: str) -> bool:
    return len(text) <= _LONGEST_PLACEHOLDER and text.casefold() in PLACEHOLDERS


@lru_cache(maxsize=64)
def _max_length(field_name: str) -> int | None:
    return Lead._meta.get_field(field_name).max_length


def parse_text(text: str, *, target: str) -> str:
    limit = None
    if target == SOURCE:
        limit = Source._meta.get_field("name").max_length
    elif not target.startswith(ATTRIBUTE_PREFIX):
        limit = _max_length(target)
    if limit is not None and len(text) > limit:
        raise CellRefused(TOO_LONG.format(length=len(text), limit=limit))
    if target == SOURCE and not _source_slug(text):
        raise CellRefused(BAD_SOURCE.format(value=text))
    return text


def parse_email(text: str) -> str:
    try:
        validate_email(text)
    except ValidationError:
        raise CellRefused(INVALID_EMAIL.format(value=text)) from None
    if len(text) > _max_length("email"):
        raise CellRefused(TOO_LONG.format(length=len(text), limit=_max_length("email")))
    return text


def parse_phone(text: str) -> str:
    """Phones stay text as written, so '+44...' and leading zeros survive."""
    if _SCIENTIFIC.match(text):
        raise CellRefused(SCIENTIFIC_PHONE.format(value=text))
    if not _PHONE.match(text) or not any(char.isdigit() for char in text):
        raise CellRefused(INVALID_PHONE.format(value=text))
    if len(text) > _max_length("phone"):
        raise CellRefused(TOO_LONG.format(length=len(text), limit=_max_length("phone")))
    return text


def _decimal(text: str) -> Decimal:
    cleaned = text.replace("\u00a0", " ").strip()
    currency = _CURRENCY.match(cleaned)
    if currency:
        cleaned = currency.group(1).strip()
    if _THOUSANDS.match(cleaned):
        cleaned = cleaned.replace(",", "").replace(" ", "")
    elif "," in cleaned and "." in cleaned:
        # Both separators: the last one is the decimal point ("1,500.25", "1.500,25").
        decimal_mark = "," if cleaned.rfind(",") > cleaned.rfind(".") else "."
        grouping = "." if decimal_mark == "," else ","
        cleaned = cleaned.replace(grouping, "").replace(" ", "").replace(decimal_mark, ".")
    elif "," in cleaned:
        # A decimal comma, as semicolon-separated European exports write numbers.
        cleaned = cleaned.replace(",", ".")
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        raise CellRefused(NOT_A_NUMBER.format(value=text)) from None
    if not number.is_finite():
        raise CellRefused(NOT_A_NUMBER.format(value=text))
    return number


def parse_number(text: str, *, limit: int = POSITIVE_INTEGER_MAX) -> int | float:
    """A non-negative number no larger than `limit`, kept as an int when it is whole (JSON has
    no decimals)."""
    number = _decimal(text)
    if number < 0:
        raise CellRefused(NEGATIVE.format(value=text))
    if number > limit:
        raise CellRefused(TOO_LARGE.format(value=text, limit=limit))
    return int(number) if number == number.to_integral_value() else float(number)


def parse_integer(text: str, *, limit: int = POSITIVE_INTEGER_MAX) -> int:
    """A whole number no larger than `limit`. A range such as '51-200' or '1,000+' (company
    sizes) gives its lower bound, the figure the company is sure to reach."""
    cleaned = text.rstrip("+").strip()
    range_match = _RANGE.match(cleaned)
    if range_match:
        cleaned = range_match.group(1)
    number = _decimal(cleaned)
    if number != number.to_integral_value():
        raise CellRefused(NOT_A_WHOLE_NUMBER.format(value=text))
    if number < 0:
        raise CellRefused(NEGATIVE.format(value=text))
    if number > limit:
        raise CellRefused(TOO_LARGE.format(value=text, limit=limit))
    return int(number)


def parse_yes_no(text: str) -> bool:
    folded = text.casefold()
    if folded in YES:
        return True
    if folded in NO:
        return False
    raise CellRefused(NOT_YES_NO.format(value=text))


def parse_count(text: str, *, limit: int = POSITIVE_INTEGER_MAX) -> int:
    """A count of actions; 'Yes' counts as one."""
    folded = text.casefold()
    if folded in YES - {"1"}:
        return 1
    if folded in NO - {"0"}:
        return 0
    return parse_integer(text, limit=limit)


def integer_limit(column: Column) -> int:
    """The largest number a column's cell may hold.

    Checked while reading, so that the dry run refuses the row the real import could not
    write. Counts become activity quantities and other numbers become attributes; both are
    kept to what a PositiveIntegerField holds, so scoring and exports read them back whole.
    """
    if column.target == "company_size":
        return COMPANY_SIZE_MAX
    return POSITIVE_INTEGER_MAX


def parse_json_object(text: str) -> dict[str, Any]:
    """A cell holding a JSON object of plain values, as Handoff's export writes attributes."""
    try:
        value = json.loads(text)
    except ValueError:
        raise CellRefused(NOT_JSON_OBJECT.format(value=text)) from None
    if not isinstance(value, dict) or any(isinstance(item, dict | list) for item in value.values()):
        raise CellRefused(NOT_JSON_OBJECT.format(value=text))
    return value


def parse_date(value: Any, *, formats: tuple[str, ...] = ()) -> datetime:
    """ISO 8601 always; other formats only when the caller declares them. A date without a
    time is midnight, and a time without a zone is in the project's time zone."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time.min)
    else:
        parsed = _parse_date_text(str(value).strip(), formats)
    # Checked before the time zone is added: making an instant near year 1 or 9999 aware can
    # itself overflow.
    if out_of_window(parsed):
        raise CellRefused(OUT_OF_WINDOW.format(value=value))
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def _parse_date_text(text: str, formats: tuple[str, ...]) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError as error:
        iso_error = error
    for date_format in formats:
        try:
            return datetime.strptime(text, date_format)  # noqa: DTZ007 - made aware by the caller
        except ValueError:
            continue
    if _ISO_DATE_SHAPE.match(text):
        # The right format with an impossible day or hour (a 30 February): say which.
        raise CellRefused(NOT_A_REAL_DATE.format(value=text, reason=iso_error))
    if formats:
        raise CellRefused(NOT_A_DATE_FORMATS.format(value=text, formats=", ".join(formats)))
    raise CellRefused(NOT_A_DATE.format(value=text))


def parse_cell(column: Column, raw: Any, *, date_formats: tuple[str, ...] = ()) -> Any:
    """The value of one non-blank cell, or CellRefused naming the value."""
    if column.parser == DATE:
        return parse_date(raw, formats=date_formats)
    text = cell_text(raw)
    if column.parser == EMAIL:
        return parse_email(text)
    if column.parser == PHONE:
        return parse_phone(text)
    if column.parser == INTEGER:
        return parse_integer(text, limit=integer_limit(column))
    if column.parser == NUMBER:
        return parse_number(text, limit=integer_limit(column))
    if column.parser == YES_NO:
        return parse_yes_no(text)
    if column.parser == COUNT:
        return parse_count(text, limit=integer_limit(column))
    if column.parser == TEXT:
        return parse_text(text, target=column.target or "")
    if column.parser == JSON_OBJECT:
        return parse_json_object(text)
    raise ValueError(f"unknown parser '{column.parser}'")


def _column_activities(
    column: Column, value: Any, text: str, *, at: datetime, dated: bool
) -> list[PlannedActivity]:
    spec = column.activity
    if isinstance(spec, CountActivity):
        quantity = round(value) if isinstance(value, int | float) else 0
        if quantity <= 0:
            return []
        return [PlannedActivity(spec.kind, spec.detail, quantity, at, dated)]
    if isinstance(spec, FlagActivity):
        return [PlannedActivity(spec.kind, spec.detail, 1, at, dated)] if value is True else []
    if isinstance(spec, ChoiceActivity):
        kind = spec.kinds.get(text.casefold())
        return [PlannedActivity(kind, text, 1, at, dated)] if kind else []
    return []


@lru_cache(maxsize=1024)
def _source_slug(source_name: str) -> str:
    return slugify(source_name.replace("_", "-"))


def source_activity(source_name: str, *, at: datetime, dated: bool) -> PlannedActivity | None:
    """The behaviour a source stands for ('Demo request' is a demo request), if any."""
    implied = SOURCE_ACTIVITIES.get(_source_slug(source_name))
    if implied is None:
        return None
    kind, detail = implied
    return PlannedActivity(kind, detail, 1, at, dated)


# Where a column's value goes in a ParsedRow.
_TO_FIELD, _TO_ATTRIBUTE, _TO_SOURCE, _TO_CREATED, _TO_ATTRIBUTES, _NOWHERE = range(6)


@dataclass(frozen=True)
class _Reader:
    """One mapped column, ready to read: where it is, the function that reads it, and where
    its value goes."""

    index: int
    header: str
    column: Column
    read: Callable[[Any, str], Any]
    goes_to: int
    key: str


def _destination(target: str | None) -> tuple[int, str]:
    if target is None:
        return _NOWHERE, ""
    if target == SOURCE:
        return _TO_SOURCE, ""
    if target == CREATED:
        return _TO_CREATED, ""
    if target == ATTRIBUTES:
        return _TO_ATTRIBUTES, ""
    if target.startswith(ATTRIBUTE_PREFIX):
        return _TO_ATTRIBUTE, target.removeprefix(ATTRIBUTE_PREFIX)
    # A lead field, the external id included.
    return _TO_FIELD, target


@lru_cache(maxsize=32)
def _readers(mapping: Mapping, date_formats: tuple[str, ...]) -> tuple[_Reader, ...]:
    """The mapping's columns with their parsers bound once, not looked up for every cell: a
    large file reads millions of cells."""
    readers = []
    for index, header, column in mapping.columns:
        if column.parser == DATE:

            def read(raw: Any, text: str, formats: tuple[str, ...] = date_formats) -> Any:
                return parse_date(raw, formats=formats)

        elif column.parser == TEXT:
            read = _text_reader(column.target or "")
        elif column.parser in _BOUNDED_PARSERS:
            bounded = _BOUNDED_PARSERS[column.parser]

            def read(
                raw: Any,
                text: str,
                parser: Callable[..., Any] = bounded,
                limit: int = integer_limit(column),
            ) -> Any:
                return parser(text, limit=limit)

        else:
            parser = _TEXT_PARSERS[column.parser]

            def read(raw: Any, text: str, parser: Callable[[str], Any] = parser) -> Any:
                return parser(text)

        goes_to, key = _destination(column.target)
        readers.append(
            _Reader(index=index, header=header, column=column, read=read, goes_to=goes_to, key=key)
        )
    return tuple(readers)


def _text_reader(target: str) -> Callable[[Any, str], str]:
    if target == SOURCE or target.startswith(ATTRIBUTE_PREFIX):
        return lambda raw, text: parse_text(text, target=target)
    limit = _max_length(target)

    def read(raw: Any, text: str) -> str:
        if limit is not None and len(text) > limit:
            raise CellRefused(TOO_LONG.format(length=len(text), limit=limit))
        return text

    return read


_TEXT_PARSERS: dict[str, Callable[[str], Any]] = {
    EMAIL: parse_email,
    PHONE: parse_phone,
    YES_NO: parse_yes_no,
    JSON_OBJECT: parse_json_object,
}
# Parsers of numbers, which take the largest value the column may hold.
_BOUNDED_PARSERS: dict[str, Callable[..., Any]] = {
    INTEGER: parse_integer,
    NUMBER: parse_number,
    COUNT: parse_count,
}


def _blank_row(cells: list[Any]) -> bool:
    for cell in cells:
        if cell is None:
            continue
        if not isinstance(cell, str) or cell.strip():
            return False
    return True


def row_parse(
    cells: list[Any],
    *,
    number: int,
    mapping: Mapping,
    now: datetime,
    date_formats: tuple[str, ...] = (),
) -> tuple[ParsedRow | None, list[RowError]]:
    """Read one data row. Returns (None, []) for a blank row, which is skipped."""
    if _blank_row(cells):
        return None, []
    if len(cells) > mapping.width and any(cell_text(cell) for cell in cells[mapping.width :]):
        message = OVERFLOW.format(row=number, count=len(cells), width=mapping.width)
        return None, [RowError(message, row=number)]

    row = ParsedRow(number=number)
    errors: list[RowError] = []
    # (column, value, text) of the cells that imply activities, read once the row's date is
    # known.
    pending: list[tuple[Column, Any, str]] = []
    width = len(cells)
    fields, attributes = row.fields, row.attributes
    # The hottest loop of an import: a large file has millions of cells.
    for reader in _readers(mapping, tuple(date_formats)):
        if reader.index >= width:
            continue
        raw = cells[reader.index]
        text = raw.strip() if raw.__class__ is str and raw[:1] != "'" else cell_text(raw)
        if not text or (len(text) <= _LONGEST_PLACEHOLDER and text.casefold() in PLACEHOLDERS):
            continue
        try:
            value = reader.read(raw, text)
        except CellRefused as error:
            errors.append(RowError(str(error), row=number, column=reader.header))
            continue
        if reader.column.activity is not None:
            pending.append((reader.column, value, text))
        goes_to = reader.goes_to
        if goes_to == _TO_FIELD:
            fields[reader.key] = value
        elif goes_to == _TO_ATTRIBUTE:
            attributes[reader.key] = value
        elif goes_to == _TO_SOURCE:
            row.source_name = value
        elif goes_to == _TO_CREATED:
            row.created = value
        elif goes_to == _TO_ATTRIBUTES:
            for key, item in value.items():
                attributes.setdefault(str(key), item)

    if errors:
        return None, errors
    if not row.email and not row.external_id:
        return None, [RowError(NO_IDENTITY.format(row=number), row=number)]

    at = row.created or now
    dated = row.created is not None
    for column, value, text in pending:
        row.activities.extend(_column_activities(column, value, text, at=at, dated=dated))
    implied = source_activity(row.source_name, at=at, dated=dated) if row.source_name else None
    if implied is not None and not _counted_already(implied, row.activities):
        row.activities.append(implied)
    return row, []


def _counted_already(implied: PlannedActivity, activities: list[PlannedActivity]) -> bool:
    """Whether the row's own activity columns already count what its source stands for.

    Marketing automation counts the download or the pricing visit that brought a lead in
    along with the others, so adding the source's activity on top would count it twice.
    Page visits are told apart by page: general website visits do not include the pricing
    page.
    """
    for activity in activities:
        if activity.kind != implied.kind:
            continue
        if activity.kind != ActivityKind.PAGE_VISIT or activity.detail == implied.detail:
            return True
    return False
