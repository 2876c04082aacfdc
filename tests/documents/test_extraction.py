"""Type detection and text extraction."""

from __future__ import annotations

import pytest

from documents.ingestion import extraction
from documents.ingestion.bounds import Bounds
from tests.pdfs import make_pdf


def test_it_detects_a_pdf_by_content_whatever_the_name() -> None:
    assert extraction.detect_mime_type("notes.txt", make_pdf([["x"]])) == extraction.PDF


def test_it_rejects_a_fake_pdf() -> None:
    with pytest.raises(extraction.ExtractionError, match="not a PDF"):
        extraction.detect_mime_type("report.pdf", b"just text")


@pytest.mark.parametrize(
    "head", [b"PK\x03\x04rest", b"\x89PNG\r\n", b"MZ\x90\x00", b"abc\x00def"]
)
def test_it_rejects_binary_content_named_as_text(head: bytes) -> None:
    with pytest.raises(extraction.ExtractionError, match="binary"):
        extraction.detect_mime_type("notes.md", head)


def test_it_tells_markdown_from_text_by_extension() -> None:
    assert extraction.detect_mime_type("a.md", b"# Hi") == extraction.MARKDOWN
    assert extraction.detect_mime_type("a.txt", b"Hi") == extraction.TEXT


def test_it_rejects_unknown_extensions() -> None:
    with pytest.raises(extraction.ExtractionError, match="Unsupported"):
        extraction.detect_mime_type("sheet.xlsm", b"hello")


def test_pdf_text_is_extracted_page_by_page() -> None:
    data = make_pdf([["Alpha page one."], ["Beta page two.", "More beta."]])
    result = extraction.extract(data, extraction.PDF)
    assert result.pages == 2
    first, second = result.page_starts
    assert first == 0
    assert result.text[first:second].strip() == "Alpha page one."
    assert result.text[second:].startswith("Beta page two.")
    assert "\r" not in result.text


def test_pdf_progress_is_reported_per_page() -> None:
    seen: list[tuple[int, int]] = []
    extraction.extract(
        make_pdf([["a"], ["b"], ["c"]]),
        extraction.PDF,
        on_page=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_a_damaged_pdf_fails_with_a_reason() -> None:
    broken = make_pdf([["x"]])[:60]
    with pytest.raises(extraction.ExtractionError, match="damaged"):
        extraction.extract(broken, extraction.PDF)


def test_an_encrypted_pdf_fails_with_that_reason(tmp_path: object) -> None:
    import io

    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(make_pdf([["secret text"]])))
    writer = pypdf.PdfWriter()
    for page in reader.pages:
        writer.add_page(page)
    writer.encrypt(user_password="hunter2", owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(extraction.ExtractionError, match="encrypted"):
        extraction.extract(out.getvalue(), extraction.PDF)


def test_a_pdf_without_text_fails_with_that_reason() -> None:
    with pytest.raises(extraction.ExtractionError, match="no text layer"):
        extraction.extract(make_pdf([[]]), extraction.PDF, bounds=Bounds(ocr_enabled=0))


def test_a_blank_pdf_is_ocred_and_fails_saying_nothing_was_recognised() -> None:
    with pytest.raises(extraction.ExtractionError, match="OCR read its 1 page and"):
        extraction.extract(make_pdf([[]]), extraction.PDF)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "latin-1", "cp1252"])
def test_text_in_common_encodings_is_decoded(encoding: str) -> None:
    original = "Café crème: déjà vu, naïve façade. Über straße."
    result = extraction.extract(original.encode(encoding), extraction.TEXT)
    assert result.text == original


def test_crlf_newlines_are_normalised() -> None:
    assert extraction.extract(b"a\r\nb\rc", extraction.TEXT).text == "a\nb\nc"


def test_an_empty_text_file_fails() -> None:
    with pytest.raises(extraction.ExtractionError, match="empty"):
        extraction.extract(b"   \n", extraction.TEXT)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_text_with_a_byte_order_mark_is_text_not_binary(encoding: str) -> None:
    original = "Notes: Café crème, 東京.\r\nSecond line.\n"
    data = original.encode(encoding)
    if not encoding.endswith(("16", "32")):
        data = ("\ufeff" + original).encode(encoding)
    assert extraction.detect_mime_type("notes.txt", data) == extraction.TEXT
    assert extraction.detect_mime_type("notes.md", data) == extraction.MARKDOWN
    text = extraction.extract(data, extraction.TEXT).text
    assert text == "Notes: Café crème, 東京.\nSecond line.\n"


def test_html_in_utf16_is_detected_as_html() -> None:
    data = "<!DOCTYPE html><html><body><p>Grüße</p></body></html>".encode("utf-16")
    assert extraction.detect_mime_type("page", data) == extraction.HTML
    assert extraction.extract(data, extraction.HTML).text == "Grüße"


def test_binary_that_starts_like_a_byte_order_mark_is_still_refused() -> None:
    with pytest.raises(extraction.ExtractionError, match="binary"):
        extraction.detect_mime_type("x.txt", b"\xff\xfe" + bytes(range(256)) * 4)
