"""Ingestion: claim, extract, chunk, upload, embed, store.

The one writer of a document's progress. Stages: "extract" (CPU-bound: read
the file, store its text) runs on the CPU queue, "index" (network-bound:
chunk, upload, embed, store chunks) on the network queue; "all" runs both.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from documents.ingestion import (
    bounds,
    bulk,
    chunking,
    extraction,
    formats,
    kinds,
    sheets,
    spaces,
    titles,
)
from documents.ingestion.fetch import fetch_snapshot
from documents.ingestion.image_vectors import image_vectors_embed, image_vectors_store
from documents.ingestion.locks import document_lock
from documents.ingestion.sandbox import extract_bounded
from documents.models import Chunk, Document, EmbeddingSpace
from documents.remote.errors import TransientError, transient
from documents.remote.files import document_upload
from project import logs, metrics

log = logging.getLogger(__name__)

_STAGES = {
    "extracting": (0, 40),
    "chunking": (40, 45),
    "uploading": (45, 55),
    "embedding": (55, 95),
    "storing": (95, 100),
}


class Progress:
    """Writes stage and progress to the Document, at most a few times a second."""

    def __init__(self, document_id: Any) -> None:
        self.document_id = document_id
        self.last = 0.0

    def __call__(
        self,
        stage: str,
        done: int = 0,
        total: int = 1,
        *,
        force: bool = False,
        unit: str = "",
    ) -> None:
        now = time.monotonic()
        if not force and now - self.last < 0.3:
            return
        self.last = now
        low, high = _STAGES[stage]
        percent = low + (high - low) * done // max(total, 1)
        # "extracting page 40/120", "embedding 300/900 chunks": what people read.
        if total > 1 and unit == "page":
            label = f"{stage} page {done}/{total}"
        elif total > 1:
            label = (
                f"{stage} {done}/{total} {unit}s" if unit else f"{stage} {done}/{total}"
            )
        else:
            label = stage
        Document.objects.filter(id=self.document_id).update(
            stage=label, progress=percent, updated=timezone.now()
        )


def document_ingest(*, document_id: Any, stage: str = "all") -> bool:
    """Run the pipeline, or one stage of it, for one document; safe to run twice.

    Stages: "extract" (CPU-bound: read the file, store its text), "index"
    (network-bound: chunk, upload, embed, store chunks) or "all". Returns whether
    the document is ready for the next stage.
    """
    with logs.document_context(document_id), document_lock(document_id) as locked:
        if not locked:
            log.info("document %s is being ingested by another worker", document_id)
            return False
        statuses = [Document.Status.PROCESSING]
        if stage != "index":
            statuses.append(Document.Status.QUEUED)
        claimed = Document.objects.filter(id=document_id, status__in=statuses)
        if stage != "index":
            claimed.update(
                status=Document.Status.PROCESSING,
                stage="extracting",
                progress=0,
                error="",
                failure_kind="",
                attempts=F("attempts") + 1,
                updated=timezone.now(),
            )
        document = claimed.first()
        if document is None:
            return False
        try:
            extracted = None
            if stage != "index":
                extracted = _extract(document)
            if stage != "extract":
                _index(document, extracted)
        except extraction.ExtractionError as exc:
            document_fail(document_id=document_id, reason=str(exc), kind=exc.kind)
            return False
        except TransientError:
            raise
        except Exception as exc:
            log.exception("ingestion of %s failed", document_id)
            document_fail(
                document_id=document_id,
                reason=f"Ingestion failed: {exc}",
                kind=kinds.INTERNAL,
            )
            return False
        log.info("ingestion stage %s of %s done", stage, document_id)
        return True


def document_fail(*, document_id: Any, reason: str, kind: str) -> None:
    """Mark a document failed: the technical reason, and its kind for people.

    The kind (a code of documents.ingestion.kinds, raised with the error,
    never read from its wording) chooses the plain message the pages show
    and whether they offer a retry.
    """
    Document.objects.filter(id=document_id).update(
        status=Document.Status.FAILED,
        error=reason[:2000],
        failure_kind=kind,
        stage="failed",
        updated=timezone.now(),
    )
    metrics.ingest_failed()


def _extract(document: Document) -> extraction.Extracted:
    progress = Progress(document.id)
    if document.source_url and not document.original:
        # A URL document's first run fetches its snapshot, then ingests it.
        fetch_snapshot(document)
    progress("extracting", force=True)
    # In a child process under memory and time limits: a hostile file fails
    # this document, never the worker.
    with metrics.stage("extract"), document.original.open("rb") as handle:
        extracted = extract_bounded(
            handle,
            document.mime_type,
            bounds=bounds.from_settings(),
            on_page=lambda done, total: progress(
                "extracting", done, total, unit="page"
            ),
        )
    document.text = extracted.text
    document.page_starts = extracted.page_starts
    document.pages = extracted.pages
    document.ocr_pages = extracted.ocr_pages
    document.unreadable_pages = extracted.unreadable_pages
    document.search_title = titles.search_title(
        title=document.title,
        metadata_title=extracted.metadata_title,
        heading=extracted.heading,
        text=extracted.text,
    )
    document.save(
        update_fields=[
            "text",
            "page_starts",
            "pages",
            "ocr_pages",
            "unreadable_pages",
            "search_title",
            "updated",
        ]
    )
    return extracted


def _index(document: Document, extracted: extraction.Extracted | None) -> None:
    progress = Progress(document.id)
    if extracted is None:
        if not document.text:
            raise extraction.ExtractionError(
                "The document was never extracted.", kind=kinds.INTERNAL
            )
        extracted = extraction.Extracted(
            text=document.text,
            mime_type=document.mime_type,
            page_starts=list(document.page_starts or []),
        )
    progress("chunking", force=True)
    with metrics.stage("chunk"):
        specs = chunk_extracted(extracted)
    if not specs:
        raise extraction.ExtractionError(
            "The document has no text to index.", kind=kinds.EMPTY
        )

    progress("uploading", force=True)
    try:
        with metrics.stage("upload"):
            _upload_once(document)
    except Exception as exc:
        if transient(exc):
            raise TransientError(str(exc)) from exc
        raise

    texts = [extracted.text[spec.start : spec.end] for spec in specs]
    search_title = document.search_title or titles.search_title(
        title=document.title, text=extracted.text
    )
    contextual = [
        spaces.embedding_input(
            title=search_title, heading=spec.heading, context=spec.context, text=text
        )
        for spec, text in zip(specs, texts, strict=True)
    ]
    progress("embedding", 0, len(texts), force=True, unit="chunk")
    try:
        pictures = image_vectors_embed(document=document, extracted=extracted)
    except Exception as exc:
        if transient(exc):
            raise TransientError(str(exc)) from exc
        raise
    embed_started = time.monotonic()

    def store(
        vectors: dict[int, list[list[float]]], live: list[EmbeddingSpace]
    ) -> None:
        metrics.stage_since("embed", embed_started)
        progress("storing", force=True)
        active = next(space for space in live if space.status == "active")
        with metrics.stage("store"):
            _store_chunks(document, specs, texts, vectors, active.model, search_title)
            image_vectors_store(document=document, embedded=pictures)
        metrics.ingested(pages=document.pages or 0, chunks=len(specs))

    try:
        # Every live space: during a switch a new document lands in both.
        spaces.embed_for_live_spaces(
            contextual,
            store,
            on_batch=lambda done, total: progress(
                "embedding", done, total, unit="chunk"
            ),
        )
    except Exception as exc:
        if transient(exc):
            raise TransientError(str(exc)) from exc
        raise


def chunk_extracted(extracted: extraction.Extracted) -> list[chunking.ChunkSpec]:
    """Chunk extracted text the way its format wants, sized by settings."""
    if extracted.mime_type == extraction.CSV:
        specs = chunking.chunk_rows(
            extracted.text,
            formats.csv_row_ends(extracted.text),
            max_tokens=settings.CHUNK_TOKENS,
        )
    elif extracted.mime_type == extraction.XLSX:
        specs = sheets.chunk_sheets(extracted.text, max_tokens=settings.CHUNK_TOKENS)
    else:
        specs = chunking.chunk_text(
            extracted.text,
            extracted.page_starts,
            max_tokens=settings.CHUNK_TOKENS,
            overlap_tokens=settings.CHUNK_OVERLAP_TOKENS,
        )
    if len(specs) > settings.MAX_CHUNKS_PER_DOCUMENT:
        # Each passage costs an embedding and a row; 100,000 one-line sections
        # would take the embedder for an hour and flood retrieval.
        raise extraction.ExtractionError(
            f"The document cuts into {len(specs):,} passages; Cairn indexes at most "
            f"{settings.MAX_CHUNKS_PER_DOCUMENT:,} per document. Split it into "
            "smaller files, or use fewer, longer sections.",
            kind=kinds.UNREADABLE,
        )
    return specs


def _upload_once(document: Document) -> None:
    """Upload to the Files API unless this document already has its file."""
    document_upload(document=document)


def _store_chunks(
    document: Document,
    specs: list[chunking.ChunkSpec],
    texts: list[str],
    vectors: dict[int, list[list[float]]],
    model: str,
    search_title: str,
) -> None:
    """Replace the document's chunks; called inside embed_for_live_spaces' lock."""
    rows = (
        bulk.ChunkRow(
            document_id=document.id,
            workspace_id=document.workspace_id,
            ordinal=ordinal,
            text=text,
            start_char=spec.start,
            end_char=spec.end,
            page=spec.page,
            heading=spec.heading[:500],
            token_estimate=spec.token_estimate,
            vectors={
                space_id: by_space[ordinal] for space_id, by_space in vectors.items()
            },
            context=spec.context,
            search_title=search_title,
        )
        for ordinal, (spec, text) in enumerate(zip(specs, texts, strict=True))
    )
    with transaction.atomic():
        # Replace, never append: a re-run leaves exactly one set of chunks.
        Chunk.objects.filter(document=document).delete()
        bulk.copy_chunks(rows)
        Document.objects.filter(id=document.id).update(
            status=Document.Status.READY,
            stage="ready",
            progress=100,
            error="",
            failure_kind="",
            embedding_model=model,
            ingested=timezone.now(),
            updated=timezone.now(),
        )
