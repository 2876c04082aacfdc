"""PDF page images for the citation panel: rendered once, bounded, kept as PNG.

Rendering runs in the limited child process (documents.ingestion.sandbox) at no
more than PAGE_IMAGE_MAX_PIXELS, so a page with a 10000 x 10000 pt MediaBox costs
a few megapixels, not a 225-megapixel bitmap in the web process. The PNG is kept
in storage beside the originals, named by the file's digest, so a second look
costs a file read and a changed file never shows an old image.
"""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from documents.ingestion import bounds
from documents.ingestion.sandbox import render_bounded
from documents.models import Document

FOLDER = "page-images"


def _folder(document_id: object) -> str:
    return f"{FOLDER}/{document_id}"


def page_image(*, document: Document, number: int) -> bytes:
    """The PNG of one page (1-based) of a PDF document; ExtractionError if it fails."""
    limits = bounds.from_settings()
    name = (
        f"{_folder(document.id)}/{document.sha256[:16]}-"
        f"{limits.render_max_pixels}-{number}.png"
    )
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as cached:
            return bytes(cached.read())
    with document.original.open("rb") as handle:
        png = render_bounded(handle, number, bounds=limits)
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
