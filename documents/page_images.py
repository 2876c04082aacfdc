"""Page images (PDF pages, image documents) and thumbnails, rendered once as PNG.

Rendering runs in the limited child process (documents.ingestion.sandbox) at no
more than PAGE_IMAGE_MAX_PIXELS, so a page with a 10000 x 10000 pt MediaBox costs
a few megapixels, not a 225-megapixel bitmap in the web process. The PNG is kept
in storage beside the originals, named by the file's digest, so a second look
costs a file read and a changed file never shows an old image.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from documents.ingestion import bounds
from documents.ingestion.sandbox import render_bounded
from documents.models import Document

FOLDER = "page-images"


def _folder(document_id: object) -> str:
    return f"{FOLDER}/{document_id}"


def page_image(*, document: Document, number: int) -> bytes:
    """The PNG of one page (1-based) of a PDF, or of an image document (page 1);
    ExtractionError if it fails."""
    limits = bounds.from_settings()
    return _cached(document, number, limits.render_max_pixels)


def thumbnail(*, document: Document) -> bytes:
    """An image document's thumbnail: at most THUMBNAIL_PX pixels a side (as area)."""
    side = int(settings.THUMBNAIL_PX)
    return _cached(document, 1, side * side)


def _cached(document: Document, number: int, max_pixels: int) -> bytes:
    """Render once in the limited child, then read the PNG kept in storage."""
    limits = bounds.from_settings()
    name = f"{_folder(document.id)}/{document.sha256[:16]}-{max_pixels}-{number}.png"
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as cached:
            return bytes(cached.read())
    with document.original.open("rb") as handle:
        png = render_bounded(
            handle,
            number,
            bounds=limits,
            mime_type=document.mime_type,
            max_pixels=max_pixels,
        )
    if not default_storage.exists(name):
        default_storage.save(name, ContentFile(png))
    return png


def page_images_delete(*, document_id: object) -> None:
    """Remove a document's cached page images."""
    folder = _folder(document_id)
    if not default_storage.exists(folder):
        return
    _dirs, files = default_storage.listdir(folder)
    for name in files:
        default_storage.delete(f"{folder}/{name}")
