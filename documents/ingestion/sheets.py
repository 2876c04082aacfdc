"""Spreadsheets (.xlsx): every sheet as CSV rows under a `# Sheet: name` line.

The text keeps each sheet's first non-empty row as its header, so a sheet reads,
chunks and answers like a CSV file: chunks are groups of whole rows carrying
their sheet's header, and the offline answerer quotes a row with the header of
its own sheet. Formulas give their cached values (what Excel last computed).

Library: python-calamine (MIT, Rust's calamine) over openpyxl's read-only mode:
on a generated 50,000-row sheet it read every cell in about 1.1 s at a 37 MB
peak, openpyxl in 11-17 s at 48 MB (benchmarks, see the report in issue 13).
Calamine holds a sheet's used area in memory, so that area is bounded first,
in the same pass that checks the zip and its XML (formats.office_check).
"""

from __future__ import annotations

import csv
import datetime
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from python_calamine import CalamineWorkbook, SheetTypeEnum

from documents.ingestion import chunking, formats
from documents.ingestion.bounds import Bounds

NOUN = "spreadsheet"
SHEET_PREFIX = "# Sheet: "
_HEADING = re.compile(r"^# Sheet: (.*)$", re.MULTILINE)
_CELL_REF = re.compile(r"^([A-Z]{1,3})([0-9]+)$")
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


class _SheetCounter:
    """Counts a worksheet part's rows and valued cells, and the area they span."""

    def __init__(self, part: str, totals: dict[str, int], bounds: Bounds) -> None:
        self.part = part
        self.totals = totals
        self.bounds = bounds
        self.row = 0
        self.column = 0
        self.counted = True
        self.rows: set[int] = set()
        self.low = (0, 0)
        self.high = (0, 0)

    def __call__(self, tag: str, attributes: dict[str, str]) -> None:
        name = tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]
        if name == "row":
            reference = attributes.get("r", "")
            self.row = int(reference) if reference.isdigit() else self.row + 1
            self.column = 0
        elif name == "c":
            self._cell(attributes.get("r", ""))
        elif name in ("v", "is") and not self.counted:
            self.counted = True
            self._count()

    def _cell(self, reference: str) -> None:
        match = _CELL_REF.match(reference)
        if match:
            self.column = _column_number(match.group(1))
            self.row = int(match.group(2))
        else:
            self.column += 1
        self.counted = False  # counted when a value shows up: styled blanks are free

    def _count(self) -> None:
        spot = (self.row, self.column)
        if not self.rows:
            self.low = self.high = spot
        self.low = (min(self.low[0], self.row), min(self.low[1], self.column))
        self.high = (max(self.high[0], self.row), max(self.high[1], self.column))
        if self.row not in self.rows:
            self.rows.add(self.row)
            self.totals["rows"] += 1
            if self.totals["rows"] > self.bounds.xlsx_max_rows:
                raise formats.FormatError(
                    f"The spreadsheet has more than {self.bounds.xlsx_max_rows:,} "
                    "rows; Cairn reads workbooks of at most that many (XLSX_MAX_ROWS)."
                    " Split it into smaller files."
                )
        area = (self.high[0] - self.low[0] + 1) * (self.high[1] - self.low[1] + 1)
        if self.totals["cells"] + area > self.bounds.xlsx_max_cells:
            raise formats.FormatError(
                f"The spreadsheet's {self.part.rsplit('/', 1)[-1]} spans "
                f"{area:,} cells (rows {self.low[0]:,}-{self.high[0]:,}, columns "
                f"{self.low[1]:,}-{self.high[1]:,}); Cairn reads workbooks of at most "
                f"{self.bounds.xlsx_max_cells:,} cells (XLSX_MAX_CELLS)."
            )

    def area(self) -> int:
        if not self.rows:
            return 0
        return (self.high[0] - self.low[0] + 1) * (self.high[1] - self.low[1] + 1)


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number


def xlsx_check(data: bytes, bounds: Bounds) -> None:
    """Refuse a workbook that inflates, nests or spans too far, before parsing."""
    totals = {"rows": 0, "cells": 0}
    counters: list[_SheetCounter] = []

    def watch(part: str) -> _SheetCounter | None:
        # Each finished sheet's area joins the total before the next is read.
        totals["cells"] += sum(counter.area() for counter in counters)
        counters.clear()
        if not _WORKSHEET_PART.match(part):
            return None
        counter = _SheetCounter(part, totals, bounds)
        counters.append(counter)
        return counter

    formats.office_check(data, bounds, noun=NOUN, watch=watch)


# Text --------------------------------------------------------------------------


def xlsx_text(data: bytes, bounds: Bounds | None = None) -> str:
    """Every worksheet of a workbook as `# Sheet: name` and its rows as CSV."""
    bounds = bounds or Bounds()
    xlsx_check(data, bounds)
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # calamine raises its own error types
        raise formats.FormatError(
            f"The spreadsheet is damaged: its sheets cannot be read ({exc})."
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
            f"The spreadsheet is damaged: a sheet cannot be read ({exc})."
        ) from exc
    finally:
        workbook.close()
    if not blocks:
        raise formats.FormatError("The spreadsheet has no sheet with any values.")
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
