"""Spreadsheets (.xlsx): every sheet as CSV rows under a `# Sheet: name` line.

The text keeps each sheet's first non-empty row as its header, so a sheet reads,
chunks and answers like a CSV file: chunks are groups of whole rows carrying
their sheet's header, and the offline answerer quotes a row with the header of
its own sheet. Formulas give their cached values (what Excel last computed).

Library: python-calamine (MIT, Rust's calamine) over openpyxl's read-only mode:
on a generated 50,000-row sheet it read every cell in 0.8-1.6 s at a 36 MB
peak, openpyxl in 14-19 s at 49 MB (`python -m bench sheets`).
Calamine holds a sheet's used area in memory, so that area is bounded first,
after the zip and XML checks DOCX has (formats.office_check).
"""

from __future__ import annotations

import csv
import datetime
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from python_calamine import CalamineWorkbook, SheetTypeEnum

from documents.ingestion import chunking, formats, kinds
from documents.ingestion.bounds import Bounds

NOUN = "spreadsheet"
SHEET_PREFIX = "# Sheet: "
_HEADING = re.compile(r"^# Sheet: (.*)$", re.MULTILINE)
_WORKSHEET_PART = re.compile(r"^xl/worksheets/[^/]+\.xml$", re.IGNORECASE)


def is_xlsx(head: bytes) -> bool:
    """Tell whether a zip's first bytes are those of an Excel workbook."""
    return head.startswith(b"PK\x03\x04") and b"xl/" in head


@dataclass(frozen=True)
class Sheet:
    """One sheet in the extracted text: its name and where its parts lie."""

    name: str
    # The `# Sheet: name` line, the header row, and the end of its last row.
    heading_start: int
    header: tuple[int, int] | None
    end: int


def sheets_in(text: str) -> list[Sheet]:
    """The sheets of an extracted workbook's text, in order."""
    headings = list(_HEADING.finditer(text))
    found = []
    for index, match in enumerate(headings):
        end = headings[index + 1].start() if index + 1 < len(headings) else len(text)
        header = _first_line(text, match.end(), end)
        found.append(Sheet(match.group(1), match.start(), header, end))
    return found


def sheet_at(text: str, offset: int) -> Sheet | None:
    """The sheet whose text holds `offset`."""
    for sheet in sheets_in(text):
        if sheet.heading_start <= offset < sheet.end:
            return sheet
    return None


def _first_line(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The first non-blank line in text[start:end], without its newline."""
    position = start
    while position < end:
        stop = text.find("\n", position, end)
        stop = end if stop < 0 else stop
        if text[position:stop].strip():
            return position, stop
        position = stop + 1
    return None


# Bounds ------------------------------------------------------------------------


# A worksheet's cell start tags (any namespace prefix), with and without a
# reference. Regular expressions over the part's bytes, not a parser: the part
# already passed office_check's XML checks, and a Python callback per element
# tripled the time of that pass on a 50,000-row sheet.
_CELL = re.compile(rb"<(?:[\w.-]+:)?c[\s/>]")
# A reference first among the cell's attributes, as spreadsheet writers put it;
# a sheet with any other cell is counted tag by tag instead.
_CELL_REFERENCE = re.compile(rb"<(?:[\w.-]+:)?c\s+r\s*=\s*[\"']([A-Za-z]{1,3})([0-9]+)")
_SHEET_TAG = re.compile(rb"<(?:[\w.-]+:)?(row|c)(?=[\s/>])([^>]*)>")
_REFERENCE = re.compile(rb'(?:^|\s)r\s*=\s*["\']([A-Za-z]{0,3})([0-9]*)["\']')


class _SheetCounter:
    """Counts a worksheet's rows and cells with content, and the area they span."""

    def __init__(self, part: str, totals: dict[str, int], bounds: Bounds) -> None:
        self.part = part
        self.totals = totals
        self.bounds = bounds
        self.rows = 0
        self.counted_row = -1
        self.top = self.bottom = self.left = self.right = 0

    def scan(self, xml: bytes) -> None:
        """Count every cell tag (styled blanks too: calamine may span them)."""
        references = _CELL_REFERENCE.findall(xml)
        if len(references) != len(_CELL.findall(xml)):
            self._scan_in_order(xml)  # another attribute order, or no references
            return
        if not references:
            return
        rows = {int(number) for number in {number for _, number in references}}
        columns = {_column_number(letters.decode()) for letters, _ in set(references)}
        self.rows = len(rows)
        self.counted_row = max(rows)
        self.top, self.bottom = min(rows), max(rows)
        self.left, self.right = min(columns), max(columns)
        self.check()

    def _scan_in_order(self, xml: bytes) -> None:
        row = column = 0
        for match in _SHEET_TAG.finditer(xml):
            attributes = match.group(2)
            reference = _REFERENCE.search(attributes)
            if match.group(1) == b"row":
                self.check()
                number = reference.group(2) if reference else b""
                row = int(number) if number else row + 1
                column = 0
                continue
            if reference and reference.group(1):
                column = _column_number(reference.group(1).decode())
                row = int(reference.group(2) or row)
            else:
                column += 1
            self._count(row, column)
        self.check()

    def _count(self, row: int, column: int) -> None:
        if self.counted_row < 0:
            self.top = self.bottom = row
            self.left = self.right = column
        self.top, self.bottom = min(self.top, row), max(self.bottom, row)
        self.left, self.right = min(self.left, column), max(self.right, column)
        if row != self.counted_row:
            self.counted_row = row
            self.rows += 1

    def area(self) -> int:
        if self.counted_row < 0:
            return 0
        return (self.bottom - self.top + 1) * (self.right - self.left + 1)

    def check(self) -> None:
        """Refuse the workbook once its rows or its spanned area pass the bounds."""
        if self.totals["rows"] + self.rows > self.bounds.xlsx_max_rows:
            raise formats.FormatError(
                f"The spreadsheet has more than {self.bounds.xlsx_max_rows:,} "
                "rows; Cairn reads workbooks of at most that many (XLSX_MAX_ROWS)."
                " Split it into smaller files."
            )
        area = self.area()
        if self.totals["cells"] + area > self.bounds.xlsx_max_cells:
            raise formats.FormatError(
                f"The spreadsheet's {self.part.rsplit('/', 1)[-1]} spans "
                f"{area:,} cells (rows {self.top:,}-{self.bottom:,}, columns "
                f"{self.left:,}-{self.right:,}); Cairn reads workbooks of at most "
                f"{self.bounds.xlsx_max_cells:,} cells (XLSX_MAX_CELLS)."
            )


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - 64
    return number


def xlsx_check(data: bytes, bounds: Bounds) -> None:
    """Refuse a workbook that inflates, nests or spans too far, before parsing.

    The zip and XML checks are DOCX's (formats.office_check); then each sheet's
    rows and spanned cells are counted, since calamine allocates a sheet's
    whole used area.
    """
    formats.office_check(data, bounds, noun=NOUN)
    totals = {"rows": 0, "cells": 0}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for member in archive.infolist():
            if not _WORKSHEET_PART.match(member.filename):
                continue
            counter = _SheetCounter(member.filename, totals, bounds)
            # Its size was bounded by office_check (DOCX_MAX_XML_MB).
            counter.scan(archive.read(member))
            totals["rows"] += counter.rows
            totals["cells"] += counter.area()


# Text --------------------------------------------------------------------------


def xlsx_text(data: bytes, bounds: Bounds | None = None) -> str:
    """Every worksheet of a workbook as `# Sheet: name` and its rows as CSV."""
    bounds = bounds or Bounds()
    xlsx_check(data, bounds)
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # calamine raises its own error types
        raise formats.FormatError(
            f"The spreadsheet is damaged: its sheets cannot be read ({exc}).",
            kind=kinds.DAMAGED,
        ) from exc
    blocks = []
    try:
        for meta in workbook.sheets_metadata:
            if meta.typ != SheetTypeEnum.WorkSheet:
                continue  # a chart sheet holds no cells
            rows = workbook.get_sheet_by_name(meta.name).iter_rows()
            lines = list(_csv_lines(rows))
            if lines:
                name = " ".join(meta.name.split())
                blocks.append(SHEET_PREFIX + name + "\n" + "\n".join(lines))
    except formats.FormatError:
        raise
    except Exception as exc:
        raise formats.FormatError(
            f"The spreadsheet is damaged: a sheet cannot be read ({exc}).",
            kind=kinds.DAMAGED,
        ) from exc
    finally:
        workbook.close()
    if not blocks:
        raise formats.FormatError(
            "The spreadsheet has no sheet with any values.", kind=kinds.EMPTY
        )
    return "\n\n".join(blocks)


def _csv_lines(rows: Iterable[list[Any]]) -> Iterator[str]:
    """Non-empty rows as single CSV lines; the first one is the sheet's header."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        cells = [_cell_text(value) for value in row]
        while cells and not cells[-1]:
            cells.pop()
        if not cells:
            continue
        writer.writerow(cells)
        line = buffer.getvalue().rstrip("\n")
        buffer.seek(0)
        buffer.truncate()
        if line.startswith("#"):
            # Quoted, so no row ever reads as a sheet's heading line (unquoted,
            # the first cell holds no comma or quote to escape).
            line = f'"{cells[0]}"' + line[len(cells[0]) :]
        yield line


def _cell_text(value: Any) -> str:
    """A cell as text: whole numbers without '.0', dates in ISO form, one line."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    # A cell's own line breaks would split its row: rows are lines.
    return " ".join(str(value).split())


# Chunks ------------------------------------------------------------------------


def chunk_sheets(text: str, *, max_tokens: int) -> list[chunking.ChunkSpec]:
    """Each sheet cut into groups of whole rows, carrying its header and name.

    The `# Sheet: name` line is in no chunk: the name is every chunk's heading
    (embedded with it), the header row its context.
    """
    specs: list[chunking.ChunkSpec] = []
    for sheet in sheets_in(text):
        if sheet.header is None:
            continue
        body = text[sheet.header[0] : sheet.end]
        ends = [sheet.header[0] + end for end in formats.csv_row_ends(body)]
        specs += chunking.chunk_rows(
            text,
            ends,
            max_tokens=max_tokens,
            start=sheet.header[0],
            heading=sheet.name,
        )
    return specs
