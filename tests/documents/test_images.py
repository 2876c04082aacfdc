"""Images and scans: types from content, bounds and bombs, OCR in the limited child."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.test import Client
from PIL import Image

from documents.ingestion import bounds
from documents.ingestion.bounds import Bounds
from documents.ingestion.extraction import ExtractionError, detect_mime_type
from documents.ingestion.sandbox import extract_bounded
from documents.models import Document
from search.retrieval import chunk_search
from tests.conftest import ingested
from tests.images import (
    blank_png,
    image_file,
    png_declaring,
    scanned_pdf,
    text_picture,
)

LINES = ["Invoice 4471 from Harbour Freight", "Total due 1,250 euros by 30 June"]
MIME = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
}


@pytest.mark.parametrize("kind", ["png", "jpeg", "gif", "webp"])
def test_image_types_are_detected_from_content_not_the_name(kind: str) -> None:
    data = image_file(["x"], kind)
    assert detect_mime_type("notes.txt", data[:2048]) == MIME[kind]
    assert detect_mime_type("scan.pdf", data[:2048]) == MIME[kind]


@pytest.mark.parametrize("kind", ["png", "jpeg", "gif", "webp"])
def test_each_image_type_is_read_by_ocr_in_the_child(kind: str, settings: Any) -> None:
    extracted = extract_bounded(
        image_file(LINES, kind), MIME[kind], bounds=bounds.from_settings()
    )
    assert "Harbour Freight" in extracted.text
    assert "1,250" in extracted.text
    # One line of text per line of the picture, in reading order.
    assert extracted.text.index("Invoice") < extracted.text.index("Total")
    assert extracted.page_starts == [0]
    assert extracted.ocr_pages == [1]


def test_a_decompression_bomb_is_refused_before_decoding(settings: Any) -> None:
    bomb = png_declaring(100_000, 100_000)
    assert len(bomb) < 1000
    with pytest.raises(ExtractionError) as raised:
        extract_bounded(bomb, "image/png", bounds=bounds.from_settings())
    reason = str(raised.value)
    assert "10,000,000,000 pixels" in reason
    assert "decompression bomb" in reason


def test_pillows_own_bomb_check_answers_with_the_same_reason(settings: Any) -> None:
    # Just over the limit: Pillow's warning (turned into an error) fires at open.
    settings.IMAGE_MAX_PIXELS = 100_000
    with pytest.raises(ExtractionError, match="decompression bomb"):
        extract_bounded(
            png_declaring(400, 400), "image/png", bounds=bounds.from_settings()
        )


def test_an_oversized_image_is_refused_with_its_size(settings: Any) -> None:
    picture = text_picture(["wide"], width=8200, size=20)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    with pytest.raises(
        ExtractionError, match=r"8,200 x .* at most 8,000 pixels a side"
    ):
        extract_bounded(buffer.getvalue(), "image/png", bounds=bounds.from_settings())


def test_an_image_without_text_fails_with_the_reason(user: Any) -> None:
    document = ingested(user, "white.png", blank_png())
    assert document.status == Document.Status.FAILED
    assert "No text could be recognised in the image" in document.error
    assert document.failure_kind == "no_text_recognised"


def test_an_image_document_is_searchable_and_shows_its_thumbnail(
    user: Any, web: Client
) -> None:
    document = ingested(user, "receipt.jpg", image_file(LINES, "jpeg"))
    assert document.status == Document.Status.READY, document.error
    assert document.mime_type == "image/jpeg"
    assert document.pages == 1 and document.ocr_pages == [1]
    (hit, *_) = chunk_search(
        workspace_id=document.workspace_id, query="Harbour Freight invoice", top_k=3
    )
    assert hit.document_id == str(document.id) and hit.page == 1
    page = web.get(f"/documents/{document.id}/").content.decode()
    assert 'data-role="thumbnail"' in page
    assert 'data-role="ocr-badge"' in page
    thumbnail = web.get(f"/documents/{document.id}/thumbnail.png")
    assert thumbnail.status_code == 200
    assert thumbnail["Content-Type"] == "image/png"
    with Image.open(io.BytesIO(thumbnail.content)) as shown:
        assert shown.width * shown.height <= 320 * 320
    # The citation panel's page image of an image document is the image.
    panel = web.get(f"/documents/{document.id}/pages/1.png")
    assert panel.status_code == 200 and panel.content.startswith(b"\x89PNG")
    assert web.get(f"/documents/{document.id}/pages/2.png").status_code == 404


def test_a_scanned_pdf_is_ocred_page_by_page_and_found_on_its_page(
    user: Any, web: Client
) -> None:
    data = scanned_pdf(
        [
            ["Quarterly report of the Example Widget Company"],
            [],
            ["The warranty on every widget lasts five years"],
        ]
    )
    document = ingested(user, "scan.pdf", data)
    assert document.status == Document.Status.READY, document.error
    assert document.pages == 3
    assert document.ocr_pages == [1, 3]
    assert document.unreadable_pages == [2]
    hits = chunk_search(
        workspace_id=document.workspace_id, query="widget warranty years", top_k=3
    )
    assert hits[0].page == 3
    page = web.get(f"/documents/{document.id}/").content.decode()
    assert page.count('data-role="ocr-badge"') == 2
    assert 'data-role="unreadable-pages"' in page
    assert "page 2" in page
    api = web.get(f"/api/v1/documents/{document.id}")
    if api.status_code == 200:
        assert api.json()["unreadable_pages"] == [2]


def test_a_scan_with_ocr_turned_off_fails_as_before(user: Any, settings: Any) -> None:
    settings.OCR_ENABLED = False
    document = ingested(user, "scan.pdf", scanned_pdf([["Some text"]]))
    assert document.status == Document.Status.FAILED
    assert document.failure_kind == "scanned"


def test_a_blank_scan_fails_saying_ocr_found_nothing(user: Any) -> None:
    document = ingested(user, "blank.pdf", scanned_pdf([[], []]))
    assert document.status == Document.Status.FAILED
    assert "OCR read its 2 pages and found none" in document.error
    assert document.failure_kind == "no_text_recognised"


def test_ocr_keeps_within_its_own_memory_limit() -> None:
    limits = Bounds(memory_mb=200, ocr_memory_mb=400)
    with pytest.raises(ExtractionError) as raised:
        extract_bounded(image_file(LINES), "image/png", bounds=limits)
    assert "(400 MB once it reads text by OCR)" in str(raised.value)
