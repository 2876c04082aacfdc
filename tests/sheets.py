"""Hand-made .xlsx workbooks for tests: real OOXML parts, written with zipfile.

Built by hand (not with a spreadsheet library) so a test controls every byte:
a formula's cached value, a cell far away, a part that inflates to gigabytes.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any
from xml.sax.saxutils import escape

# A cell: a value, or ("=FORMULA", cached value).
Cell = Any
Rows = list[list[Cell]]

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    "{sheets}</Types>"
)
_SHEET_TYPE = (
    '<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
    'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.'
    'org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_NS = (
    'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
)


def _column(number: int) -> str:
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _cell(reference: str, value: Cell) -> str:
    if isinstance(value, tuple):
        formula, cached = value
        return (
            f'<c r="{reference}"><f>{escape(formula.lstrip("="))}</f>'
            f"<v>{cached}</v></c>"
        )
    if value is None:
        return ""
    if isinstance(value, bool):
        return f'<c r="{reference}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float):
        return f'<c r="{reference}"><v>{value}</v></c>'
    return f'<c r="{reference}" t="inlineStr"><is><t>{escape(str(value))}</t></is></c>'


def sheet_xml(rows: Rows, *, first_row: int = 1) -> str:
    """A worksheet part holding rows from `first_row`, cells from column A."""
    body = []
    for offset, row in enumerate(rows):
        number = first_row + offset
        cells = "".join(
            _cell(f"{_column(col)}{number}", value)
            for col, value in enumerate(row, start=1)
        )
        body.append(f'<row r="{number}">{cells}</row>')
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f"<worksheet {_NS}><sheetData>{''.join(body)}</sheetData></worksheet>"
    )


def xlsx_bytes(
    sheets: dict[str, Rows] | None = None, *, parts: dict[str, str] | None = None
) -> bytes:
    """A workbook with these sheets (name -> rows); `parts` replace sheet XML."""
    sheets = sheets or {"Sheet1": [["a"]]}
    names = list(sheets)
    workbook = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f"<workbook {_NS}><sheets>"
        + "".join(
            f'<sheet name="{escape(name, {chr(34): "&quot;"})}" sheetId="{n}" '
            f'r:id="rId{n}"/>'
            for n, name in enumerate(names, start=1)
        )
        + "</sheets></workbook>"
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        'relationships">'
        + "".join(
            f'<Relationship Id="rId{n}" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/worksheet" '
            f'Target="worksheets/sheet{n}.xml"/>'
            for n in range(1, len(names) + 1)
        )
        + "</Relationships>"
    )
    files = {
        "[Content_Types].xml": _CONTENT_TYPES.format(
            sheets="".join(_SHEET_TYPE.format(n=n) for n in range(1, len(names) + 1))
        ),
        "_rels/.rels": _ROOT_RELS,
        "xl/workbook.xml": workbook,
        "xl/_rels/workbook.xml.rels": rels,
    }
    for n, name in enumerate(names, start=1):
        files[f"xl/worksheets/sheet{n}.xml"] = sheet_xml(sheets[name])
    files.update(parts or {})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, content in files.items():
            archive.writestr(path, content)
    return buffer.getvalue()


OFFICES: dict[str, Rows] = {
    "Offices": [
        ["office", "country", "headcount", "opened"],
        ["Krakow", "Poland", 85, 2016],
        ["Lisbon", "Portugal", 42, 2019],
        ["Austin", "United States", 130, 2012],
    ],
    "Budget": [
        ["team", "quarter", "spend", "per head"],
        ["Platform", "Q1", 120000, ("=C2/85", 1411.76)],
        ["Support", "Q1", 45000, ("=C3/42", 1071.43)],
    ],
}
