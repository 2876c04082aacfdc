"""Multimodal vectors at ingestion: an image document, or each rendered PDF page.

The network half (render in the limited child, embed) runs before the
chunks are stored; the write runs in the same transaction that stores them,
so a document's image vectors always point at its current chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from documents.ingestion import bounds
from documents.ingestion.extraction import Extracted
from documents.ingestion.sandbox import render_bounded
from documents.models import Chunk, Document, ImageVector
from documents.remote import multimodal


@dataclass(frozen=True)
class PageVector:
    """A vector for page `page` (1-based; an image is page 1)."""

    page: int
    vector: list[float]


def _pages(document: Document, extracted: Extracted) -> list[int]:
    if document.is_image:
        return [1]
    if document.is_pdf and settings.MULTIMODAL_EMBED_PDF_PAGES:
        return list(range(1, (extracted.pages or 0) + 1))
    return []


def _page_text(extracted: Extracted, page: int) -> str:
    starts = extracted.page_starts or [0]
    end = starts[page] if page < len(starts) else len(extracted.text)
    return extracted.text[starts[page - 1] : end]


def image_vectors_embed(
    *, document: Document, extracted: Extracted
) -> list[PageVector]:
    """Render and embed the document's images ([] when multimodal is off)."""
    if not multimodal.enabled():
        return []
    pages = _pages(document, extracted)
    if not pages:
        return []
    limits = bounds.from_settings()
    inputs = []
    for page in pages:
        with document.original.open("rb") as handle:
            png = render_bounded(
                handle,
                page,
                bounds=limits,
                mime_type=document.mime_type,
                max_pixels=int(settings.MULTIMODAL_MAX_PIXELS),
            )
        inputs.append(multimodal.ImageInput(png, _page_text(extracted, page)))
    vectors = multimodal.embedder().embed_images(inputs)
    return [PageVector(page, v) for page, v in zip(pages, vectors, strict=True)]


def image_vectors_store(*, document: Document, embedded: list[PageVector]) -> int:
    """Write the vectors, each tied to the first chunk on its page; inside the
    transaction that stored the chunks. Returns how many were written."""
    ImageVector.objects.filter(document_id=document.id).delete()
    if not embedded:
        return 0
    first_chunk: dict[int, int] = {}
    for chunk_id, page in (
        Chunk.objects.filter(document=document)
        .order_by("ordinal")
        .values_list("id", "page")
    ):
        first_chunk.setdefault(page or 1, chunk_id)
    rows = [
        ImageVector(
            chunk_id=first_chunk[item.page],
            document_id=document.id,
            workspace_id=document.workspace_id,
            page=item.page,
            model=multimodal.model(),
            embedding=item.vector,
        )
        for item in embedded
        if item.page in first_chunk
    ]
    ImageVector.objects.bulk_create(rows)
    return len(rows)
