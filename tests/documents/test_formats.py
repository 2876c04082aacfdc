"""Every format: DOCX, HTML, CSV, text, Markdown and real PDFs, chunked exactly."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from documents.ingestion import extraction, formats
from documents.ingestion.chunking import chunk_rows
from documents.ingestion.pipeline import chunk_extracted
from tests.conftest import ingested

REPO = Path(__file__).resolve().parents[2]


def financebench_pdfs() -> list[Path]:
    """The FinanceBench sample PDFs, from ../shared/data or /work/shared/data."""
    for root in (REPO.parent / "shared" / "data", Path("/work/shared/data")):
        folder = root / "financebench-sample" / "pdfs"
        if folder.is_dir():
            return sorted(folder.glob("*.pdf"))
    return []


def make_docx() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Employee Handbook", level=1)
    document.add_paragraph("Welcome to the company.")
    document.add_heading("Vacation", level=2)
    document.add_paragraph("Employees get 25 days of paid vacation per year.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Grade"
    table.cell(0, 1).text = "Days"
    table.cell(1, 0).text = "Senior"
    table.cell(1, 1).text = "30"
    document.add_heading("Expenses", level=2)
    document.add_paragraph("Submit reports within 30 days.")
    handle = io.BytesIO()
    document.save(handle)
    return handle.getvalue()


PAGE = """<!DOCTYPE html>
<html><head><title>Policy</title><style>p { color: red }</style>
<script>document.write("INJECTED"); fetch("http://evil.example/")</script></head>
<body>
<nav><a href="/">Home</a> <a href="/about">About us</a></nav>
<header>Site banner text</header>
<main>
  <h1>Travel policy</h1>
  <p>Book flights <b>two weeks</b> ahead.<br>Economy class only.</p>
  <h2>Hotels</h2>
  <ul><li>Up to 150 euros a night.</li><li>Breakfast included.</li></ul>
  <table><tr><th>City</th><th>Limit</th></tr><tr><td>Paris</td><td>200</td></tr></table>
</main>
<aside>Related links</aside>
<footer>Copyright 2026</footer>
<script>alert("x")</script>
</body></html>
"""

CSV_TEXT = (
    "region,quarter,revenue\n"
    + "".join(f"north,Q{i % 4 + 1},{1000 + i}\n" for i in range(200))
    + 'south,Q1,"a note\nwith a newline, and a comma"\n'
)


def test_docx_is_detected_from_content_and_read_in_order() -> None:
    data = make_docx()
    assert extraction.detect_mime_type("handbook.bin", data[:8192]) == extraction.DOCX
    result = extraction.extract(data, extraction.DOCX)
    text = result.text
    assert text.startswith("# Employee Handbook")
    assert "## Vacation" in text
    assert "Grade | Days\nSenior | 30" in text
    assert text.index("25 days") < text.index("Grade") < text.index("## Expenses")


def test_docx_chunks_carry_heading_paths() -> None:
    result = extraction.extract(make_docx(), extraction.DOCX)
    chunks = chunk_extracted(result)
    by_heading = {c.heading: result.text[c.start : c.end] for c in chunks}
    assert "25 days" in by_heading["Employee Handbook › Vacation"]
    assert "30 days" in by_heading["Employee Handbook › Expenses"]


def test_a_damaged_docx_fails_with_a_reason() -> None:
    data = make_docx()
    broken = data[:2000]
    with pytest.raises(extraction.ExtractionError, match="damaged"):
        extraction.extract(broken, extraction.DOCX)


def test_old_word_files_are_refused_with_advice() -> None:
    with pytest.raises(extraction.ExtractionError, match=r"\.docx"):
        extraction.detect_mime_type("old.doc", b"\xd0\xcf\x11\xe0rest")


def test_html_keeps_main_content_and_drops_scripts_and_chrome() -> None:
    assert extraction.detect_mime_type("page", PAGE.encode()) == extraction.HTML
    text = extraction.extract(PAGE.encode(), extraction.HTML).text
    assert text.startswith("# Travel policy")
    assert "Book flights two weeks ahead.\nEconomy class only." in text
    assert "## Hotels" in text
    assert "- Up to 150 euros a night.\n\n- Breakfast included." in text
    assert "City | Limit\nParis | 200" in text
    for absent in ("INJECTED", "alert", "evil", "Home", "banner", "Related", "Copy"):
        assert absent not in text


def test_html_without_main_uses_the_body() -> None:
    markup = "<html><body><nav>Menu</nav><p>Only paragraph.</p></body></html>"
    assert extraction.extract(markup.encode(), extraction.HTML).text == (
        "Only paragraph."
    )


def test_html_with_only_scripts_has_no_text() -> None:
    markup = b"<html><body><script>var a = 1;</script></body></html>"
    with pytest.raises(extraction.ExtractionError, match="no text"):
        extraction.extract(markup, extraction.HTML)


def test_csv_rows_stay_whole_and_carry_the_header(settings: Any) -> None:
    settings.CHUNK_TOKENS = 40
    assert extraction.detect_mime_type("sales.csv", CSV_TEXT.encode()) == (
        extraction.CSV
    )
    result = extraction.extract(CSV_TEXT.encode(), extraction.CSV)
    chunks = chunk_extracted(result)
    assert len(chunks) > 5
    header, *body = chunks
    assert result.text[header.start : header.end] == "region,quarter,revenue"
    rows = set(result.text.splitlines()[1:201])
    for chunk in body:
        piece = result.text[chunk.start : chunk.end]
        assert chunk.context == "region,quarter,revenue"
        for line in piece.split("\n"):
            assert line in rows or line.startswith(("south", "with a newline"))
    last = result.text[body[-1].start : body[-1].end]
    assert last.endswith('"a note\nwith a newline, and a comma"')


_cells = st.text(alphabet=st.sampled_from(list('ab ,"\n')), max_size=12)


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.lists(_cells, min_size=1, max_size=4), max_size=40))
def test_csv_chunks_are_exact_slices_of_whole_records(rows: list[list[str]]) -> None:
    import csv

    handle = io.StringIO()
    csv.writer(handle, lineterminator="\n").writerows(rows)
    text = handle.getvalue()
    ends = formats.csv_row_ends(text)
    chunks = chunk_rows(text, ends, max_tokens=16)
    starts = [c.start for c in chunks]
    assert starts == sorted(set(starts))
    boundaries = {0, len(text), *ends, *(end + 1 for end in ends)}
    for chunk in chunks:
        piece = text[chunk.start : chunk.end]
        assert piece == piece.strip()
        # A chunk starts and ends at record boundaries (modulo trimmed spaces).
        assert text[: chunk.start].rstrip() == "" or any(
            text[b : chunk.start].strip() == "" for b in boundaries if b <= chunk.start
        )
        assert any(text[chunk.end : b].strip() == "" for b in boundaries)
    covered = {i for c in chunks for i in range(c.start, c.end)}
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


@pytest.mark.parametrize(
    ("name", "data", "needle"),
    [
        ("handbook.docx", make_docx(), "25 days"),
        ("travel.html", PAGE.encode(), "150 euros"),
        ("sales.csv", CSV_TEXT.encode(), "north,Q1,1000"),
        ("notes.txt", "Café prices rose in Zürich.".encode("cp1252"), "Zürich"),
        ("guide.md", b"# Guide\n\nInstall it with make.", "make"),
    ],
)
def test_every_format_ingests_with_exact_chunk_offsets(
    user: Any, name: str, data: bytes, needle: str
) -> None:
    document = ingested(user, name, data)
    assert document.status == "ready", document.error
    chunks = list(document.chunks.all())
    assert chunks
    for chunk in chunks:
        assert document.text[chunk.start_char : chunk.end_char] == chunk.text
    assert any(needle in chunk.text for chunk in chunks)


def test_financebench_pdfs_extract_and_chunk_exactly() -> None:
    pdfs = financebench_pdfs()
    if not pdfs:
        pytest.skip("FinanceBench sample absent from ../shared/data and /work/shared")
    for path in pdfs[:3]:
        data = path.read_bytes()
        assert extraction.detect_mime_type(path.name, data[:8192]) == extraction.PDF
        result = extraction.extract(data, extraction.PDF)
        assert result.pages and result.pages > 1
        chunks = chunk_extracted(result)
        assert len(chunks) >= result.pages // 2
        for chunk in chunks:
            assert chunk.page is not None
            assert result.page_starts[chunk.page - 1] <= chunk.start
            assert result.text[chunk.start : chunk.end].strip()
