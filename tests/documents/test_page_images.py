"""The citation panel's PDF page images: bounded in pixels, rendered once."""

from __future__ import annotations

import io
from typing import Any

from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from PIL import Image

from documents import page_images, services
from tests.conftest import ingested
from tests.reliability.corpus import pdf_huge_media_box


def _url(document: Any, number: int) -> str:
    return reverse(
        "documents:page-png", kwargs={"document_id": document.id, "number": number}
    )


def test_a_huge_page_renders_within_the_pixel_cap_and_is_cached(
    web: Client, user: Any, settings: Any, monkeypatch: Any
) -> None:
    settings.PAGE_IMAGE_MAX_PIXELS = 1_000_000
    document = ingested(user, "poster.pdf", pdf_huge_media_box(False))
    assert document.status == "ready"

    response = web.get(_url(document, 1))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    width, height = Image.open(io.BytesIO(response.content)).size
    # 10000 x 10000 pt at the usual 1.5 would be 15000 x 15000 pixels.
    assert width * height <= 1_000_000
    assert width > 900

    def no_second_render(*args: Any, **kwargs: Any) -> bytes:
        raise AssertionError("rendered again instead of read from the cache")

    monkeypatch.setattr(page_images, "render_bounded", no_second_render)
    again = web.get(_url(document, 1))
    assert again.status_code == 200
    assert again.content == response.content


def test_pages_past_the_last_are_not_found(web: Client, user: Any) -> None:
    document = ingested(user, "poster.pdf", pdf_huge_media_box(False))
    assert web.get(_url(document, 2)).status_code == 404
    assert web.get(_url(document, 0)).status_code == 404


def test_deleting_the_document_deletes_its_page_images(web: Client, user: Any) -> None:
    document = ingested(user, "poster.pdf", pdf_huge_media_box(False))
    assert web.get(_url(document, 1)).status_code == 200
    folder = f"{page_images.FOLDER}/{document.id}"
    assert default_storage.listdir(folder)[1]
    services.document_delete(document=document)
    assert not default_storage.exists(folder) or not default_storage.listdir(folder)[1]
