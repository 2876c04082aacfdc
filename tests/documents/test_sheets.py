"""Excel workbooks: every sheet as rows under its header, bounded, cited exactly."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from documents.ingestion import extraction, sheets
from documents.ingestion.bounds import Bounds
from documents.ingestion.sandbox import extract_bounded
from documents.models import Document
from search.answering import answer_question
from tests.conftest import ingested
from tests.sheets import OFFICES, sheet_xml, xlsx_bytes


def test_a_workbook_is_detected_from_its_bytes() -> None:
    data = xlsx_bytes(OFFICES)
    assert extraction.detect_mime_type("offices.xlsx", data[:8192]) == (extraction.XLSX)
    # The content decides, not the name.
    assert extraction.detect_mime_type("upload.bin", data[:8192]) == extraction.XLSX
    with pytest.raises(extraction.ExtractionError, match="not an Excel workbook"):
        extraction.detect_mime_type("offices.xlsx", b"office,headcount\n")
    with pytest.raises(extraction.ExtractionError, match=r"\.xls\) workbooks"):
        extraction.detect_mime_type("old.xls", b"\xd0\xcf\x11\xe0" + b"\0" * 100)


def test_every_sheet_becomes_rows_under_its_header_with_cached_formulas() -> None:
    text = extraction.extract(xlsx_bytes(OFFICES), extraction.XLSX).text
    assert text == (
        "# Sheet: Offices\n"
        "office,country,headcount,opened\n"
        "Krakow,Poland,85,2016\n"
        "Lisbon,Portugal,42,2019\n"
        "Austin,United States,130,2012\n"
        "\n"
        "# Sheet: Budget\n"
        "team,quarter,spend,per head\n"
        # The formulas' cached values, as Excel last computed them.
        "Platform,Q1,120000,1411.76\n"
        "Support,Q1,45000,1071.43"
    )


def test_cells_keep_one_row_per_line_and_no_row_reads_as_a_sheet_heading() -> None:
    rows: list[list[Any]] = [
        ["name", "note", "ok"],
        ["# Sheet: fake", "two\nlines, and a comma", True],
        ["Ann", 'say "hi"', False],
    ]
    text = extraction.extract(xlsx_bytes({"Notes": rows}), extraction.XLSX).text
    assert text.splitlines() == [
        "# Sheet: Notes",
        "name,note,ok",
        '"# Sheet: fake","two lines, and a comma",TRUE',
        'Ann,"say ""hi""",FALSE',
    ]
    assert [sheet.name for sheet in sheets.sheets_in(text)] == ["Notes"]


def test_sheet_chunks_carry_their_own_header_and_name() -> None:
    extracted = extraction.extract(xlsx_bytes(OFFICES), extraction.XLSX)
    text = extracted.text
    chunks = sheets.chunk_sheets(text, max_tokens=16)
    by_sheet: dict[str, list[Any]] = {}
    for chunk in chunks:
        by_sheet.setdefault(chunk.heading, []).append(chunk)
        assert not text[chunk.start : chunk.end].startswith("# Sheet:")
    assert set(by_sheet) == {"Offices", "Budget"}
    offices_header = "office,country,headcount,opened"
    budget_header = "team,quarter,spend,per head"
    assert text[by_sheet["Offices"][0].start : by_sheet["Offices"][0].end] == (
        offices_header
    )
    assert {c.context for c in by_sheet["Offices"][1:]} == {offices_header}
    assert {c.context for c in by_sheet["Budget"][1:]} == {budget_header}
    rows = "\n".join(text[c.start : c.end] for c in by_sheet["Budget"][1:])
    assert "Platform,Q1,120000,1411.76" in rows


def test_a_workbook_with_many_sheets_ingests_with_exact_offsets(user: Any) -> None:
    document = ingested(user, "offices.xlsx", xlsx_bytes(OFFICES))
    assert document.status == Document.Status.READY, document.error
    assert document.mime_type == extraction.XLSX
    chunks = list(document.chunks.order_by("ordinal"))
    assert {chunk.heading for chunk in chunks} == {"Offices", "Budget"}
    for chunk in chunks:
        assert document.text[chunk.start_char : chunk.end_char] == chunk.text


@pytest.mark.parametrize(
    ("question", "expected", "row", "header"),
    [
        (
            "What is the Lisbon headcount?",
            "office: Lisbon, country: Portugal, headcount: 42, opened: 2019",
            "Lisbon,Portugal,42,2019",
            "office,country,headcount,opened",
        ),
        (
            "How much did the Support team spend in Q1?",
            "team: Support, quarter: Q1, spend: 45000, per head: 1071.43",
            "Support,Q1,45000,1071.43",
            "team,quarter,spend,per head",
        ),
    ],
)
def test_offline_a_sheet_row_is_answered_with_its_own_sheets_header(
    user: Any, question: str, expected: str, row: str, header: str
) -> None:
    document = ingested(user, "offices.xlsx", xlsx_bytes(OFFICES))
    answer = answer_question(workspace=document.workspace, user=user, text=question)
    assert answer.text == expected
    cited = [c.cited_text for c in answer.citations.order_by("ordinal")]
    # The row, then its own sheet's header (never the other sheet's).
    assert cited == [row, header]
    for citation in answer.citations.all():
        assert (
            document.text[citation.start_char : citation.end_char]
            == citation.cited_text
        )


def test_offline_a_header_row_alone_is_never_the_answer(user: Any) -> None:
    document = ingested(user, "offices.xlsx", xlsx_bytes(OFFICES))
    answer = answer_question(
        workspace=document.workspace,
        user=user,
        text="Which columns: team, quarter, spend, per head?",
    )
    assert answer.text.strip() != "team,quarter,spend,per head"
    for citation in answer.citations.order_by("ordinal")[:1]:
        assert not citation.cited_text.startswith(("team,", "office,", "# Sheet"))


# Bounds -------------------------------------------------------------------------


def _bomb(inflated_mb: int) -> bytes:
    """A workbook whose sheet inflates to `inflated_mb` MB of blank XML."""
    filler = b" " * (inflated_mb * 1048576)
    data = io.BytesIO(xlsx_bytes(OFFICES))
    out = io.BytesIO()
    with (
        zipfile.ZipFile(data) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive,
    ):
        for item in source.infolist():
            content = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = content.replace(b"<sheetData>", b"<sheetData>" + filler)
            archive.writestr(item.filename, content)
    return out.getvalue()


def test_a_zip_bomb_workbook_is_refused_before_parsing() -> None:
    data = _bomb(300)
    assert len(data) < 2 * 1048576
    with pytest.raises(extraction.ExtractionError, match="zip bomb"):
        extraction.extract(data, extraction.XLSX)


def test_a_huge_sheet_part_is_refused_with_its_name() -> None:
    bounds = Bounds(docx_max_xml_mb=4)
    with pytest.raises(extraction.ExtractionError, match=r"sheet1\.xml is 5 MB"):
        extraction.extract(_bomb(5), extraction.XLSX, bounds=bounds)


def test_a_far_away_cell_that_would_span_billions_is_refused() -> None:
    far = sheet_xml([["x"]]).replace(
        "</sheetData>",
        '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>',
    )
    data = xlsx_bytes({"Sheet1": [["x"]]}, parts={"xl/worksheets/sheet1.xml": far})
    with pytest.raises(extraction.ExtractionError, match="XLSX_MAX_CELLS"):
        extraction.extract(data, extraction.XLSX)


def test_the_row_cap_counts_rows_of_every_sheet() -> None:
    rows: list[list[Any]] = [["n"], *([n] for n in range(30))]
    data = xlsx_bytes({"A": rows, "B": rows})
    extraction.extract(data, extraction.XLSX, bounds=Bounds(xlsx_max_rows=62))
    with pytest.raises(extraction.ExtractionError, match="more than 61 rows"):
        extraction.extract(data, extraction.XLSX, bounds=Bounds(xlsx_max_rows=61))


def test_a_dtd_in_a_sheet_is_refused() -> None:
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]>'
        + sheet_xml([["&lol;"]]).split("?>", 1)[1]
    )
    data = xlsx_bytes(parts={"xl/worksheets/sheet1.xml": laughs})
    with pytest.raises(extraction.ExtractionError, match="declares a DTD"):
        extraction.extract(data, extraction.XLSX)


def test_a_damaged_or_empty_workbook_fails_with_a_reason() -> None:
    data = xlsx_bytes(OFFICES)
    with pytest.raises(extraction.ExtractionError, match="spreadsheet is damaged"):
        extraction.extract(data[: len(data) // 2], extraction.XLSX)
    renamed = data.replace(b"xl/workbook.xml", b"xl/workbooX.xml")
    with pytest.raises(extraction.ExtractionError, match="no sheet with any values"):
        extraction.extract(renamed, extraction.XLSX)
    empty = xlsx_bytes({"Empty": [[None, ""]]})
    with pytest.raises(extraction.ExtractionError, match="no sheet with any values"):
        extraction.extract(empty, extraction.XLSX)


def test_the_bomb_fails_its_document_in_the_limited_child(user: Any) -> None:
    document = ingested(user, "bomb.xlsx", _bomb(300))
    assert document.status == Document.Status.FAILED
    assert "zip bomb" in document.error
    assert not document.chunks.exists()


def test_extraction_runs_in_the_child_process() -> None:
    extracted = extract_bounded(
        xlsx_bytes(OFFICES), extraction.XLSX, bounds=Bounds(memory_mb=480)
    )
    assert extracted.text.startswith("# Sheet: Offices\noffice,country")


def test_cells_without_references_are_counted_in_order() -> None:
    # No r attributes (valid OOXML): the cells follow one another from A1.
    wide = sheet_xml([["x"]]).replace(
        '<c r="A1" t="inlineStr"><is><t>x</t></is></c>',
        "".join('<c t="inlineStr"><is><t>x</t></is></c>' for _ in range(30)),
    )
    data = xlsx_bytes({"Sheet1": [["x"]]}, parts={"xl/worksheets/sheet1.xml": wide})
    extraction.extract(data, extraction.XLSX, bounds=Bounds(xlsx_max_cells=30))
    with pytest.raises(extraction.ExtractionError, match="spans 30 cells"):
        extraction.extract(data, extraction.XLSX, bounds=Bounds(xlsx_max_cells=29))
    # A reference after another attribute is read too.
    late = sheet_xml([["x"]]).replace(
        '<c r="A1" t="inlineStr">', '<c t="inlineStr" r="ZZ900">'
    )
    data = xlsx_bytes({"Sheet1": [["x"]]}, parts={"xl/worksheets/sheet1.xml": late})
    with pytest.raises(extraction.ExtractionError, match="rows 900-900"):
        extraction.extract(data, extraction.XLSX, bounds=Bounds(xlsx_max_cells=0))
