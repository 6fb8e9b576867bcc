"""Reading a lead file as a table: encodings, delimiters and what spreadsheets leave behind.

The file is streamed twice at most: once in chunks to learn its encoding, once as rows. It is
never held in memory as a whole string.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

# Delimiters a lead export uses, most likely first: a tie goes to the earlier one.
DELIMITERS = (",", ";", "\t", "|")
CHUNK_BYTES = 64 * 1024
# The first data row, as a spreadsheet numbers it: the header is row 1.
FIRST_DATA_ROW = 2

# Excel writes "sep=;" as the first line to say which delimiter follows.
_SEP_LINE = re.compile(r'^\s*"?sep=(.)"?\s*$', re.IGNORECASE)
_ZIP_MAGIC = b"PK\x03\x04"
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)

NOT_TEXT = (
    "The file is not CSV text: it looks like an Excel workbook or another binary file. "
    "Save it as CSV (comma or semicolon separated) and import that."
)
EMPTY_FILE = "The file is empty: it has no header row."
UNREADABLE_ROW = "Row {row}: cannot be read as CSV ({error})."


class FileRefused(Exception):
    """The file cannot be read as a table at all; nothing was imported."""


@dataclass(frozen=True)
class Record:
    """One data row: its number as a spreadsheet shows it, and its cells as written."""

    number: int
    cells: list[Any]


@dataclass
class Table:
    """Headers as written, and the data rows, read lazily."""

    headers: list[str]
    records: Iterable[Record]
    encoding: str = ""
    delimiter: str = ""


def detect_encoding(raw: IO[bytes]) -> str:
    """UTF-8 (with or without a BOM), UTF-16 with a BOM, else Windows-1252.

    Reads the stream in chunks and rewinds it. A byte that Windows-1252 leaves undefined
    falls back to Latin-1, which decodes anything, rather than refusing the file.
    """
    raw.seek(0)
    head = raw.read(4)
    raw.seek(0)
    if head.startswith(_ZIP_MAGIC):
        raise FileRefused(NOT_TEXT)
    if head.startswith(_UTF16_BOMS):
        return "utf-16"

    utf8 = codecs.getincrementaldecoder("utf-8")()
    cp1252 = codecs.getincrementaldecoder("cp1252")()
    utf8_ok = cp1252_ok = True
    while chunk := raw.read(CHUNK_BYTES):
        if b"\x00" in chunk:
            raise FileRefused(NOT_TEXT)
        if utf8_ok:
            try:
                utf8.decode(chunk)
            except UnicodeDecodeError:
                utf8_ok = False
        if cp1252_ok:
            try:
                cp1252.decode(chunk)
            except UnicodeDecodeError:
                cp1252_ok = False
        if not (utf8_ok or cp1252_ok):
            break
    if utf8_ok:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8_ok = False
    raw.seek(0)
    if utf8_ok:
        # utf-8-sig drops a BOM when there is one and reads plain UTF-8 otherwise.
        return "utf-8-sig"
    return "cp1252" if cp1252_ok else "latin-1"


def sniff_delimiter(header_line: str) -> str:
    """The delimiter that splits the header into the most columns.

    The header alone decides: header names rarely hold a delimiter, while free-text cells
    further down (notes, titles) often hold commas and semicolons both.
    """
    best, best_count = DELIMITERS[0], 0
    for delimiter in DELIMITERS:
        count = len(next(csv.reader([header_line], delimiter=delimiter), []))
        if count > best_count:
            best, best_count = delimiter, count
    return best


def _records(reader: Iterator[list[str]]) -> Iterator[Record]:
    number = FIRST_DATA_ROW
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise FileRefused(UNREADABLE_ROW.format(row=number, error=error)) from error
        yield Record(number=number, cells=cells)
        number += 1


def _table_from_text(text: IO[str], *, encoding: str) -> Table:
    first = text.readline()
    separator = _SEP_LINE.match(first)
    if separator:
        delimiter = separator.group(1)
        first = text.readline()
    else:
        delimiter = sniff_delimiter(first)
    if not first.strip():
        raise FileRefused(EMPTY_FILE)
    reader = csv.reader(_chain_first(first, text), delimiter=delimiter)
    headers = [cell.replace("\ufeff", "").strip() for cell in next(reader)]
    return Table(headers=headers, records=_records(reader), encoding=encoding, delimiter=delimiter)


def _chain_first(first: str, rest: IO[str]) -> Iterator[str]:
    yield first
    yield from rest


@contextmanager
def table_open(source: str | Path | IO[bytes]) -> Iterator[Table]:
    """Open a CSV file (a path, or a seekable binary stream such as an upload) as a Table.

    A path is closed when the block ends; a stream the caller passed in is left open.
    """
    if isinstance(source, str | Path):
        with open(source, "rb") as raw:
            yield _table_from_binary(raw)
    else:
        yield _table_from_binary(source)


def _table_from_binary(raw: IO[bytes]) -> Table:
    encoding = detect_encoding(raw)
    # Through the unclosable view, closing or collecting the wrapper leaves the caller's
    # stream open.
    text = io.TextIOWrapper(io.BufferedReader(_Unclosable(raw)), encoding=encoding, newline="")
    return _table_from_text(text, encoding=encoding)


class _Unclosable(io.RawIOBase):
    """A view of a binary stream that the text wrapper may 'close' without closing it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
