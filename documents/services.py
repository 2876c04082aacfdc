"""Writes for workspaces and documents: creation, ingestion, retry, deletion."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from documents.ingestion import bulk, chunking, extraction, formats, spaces
from documents.models import Chunk, Document, EmbeddingSpace, Membership, Workspace
from documents.remote import files_api

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    AnyUser = AbstractBaseUser | AnonymousUser

log = logging.getLogger(__name__)

SNIFF_BYTES = 8192


class UploadRejected(Exception):
    """An upload refused before ingestion; status says which HTTP status fits."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class TransientError(Exception):
    """An outside service failed in a way worth retrying later."""


@dataclass
class Created:
    """The outcome of one upload: the document and whether it already existed."""

    document: Document
    duplicate: bool


def workspace_default_for_user(*, user: Any) -> Workspace:
    """Return the user's first workspace, creating one for a user who has none."""
    membership = (
        Membership.objects.filter(user=user)
        .select_related("workspace")
        .order_by("id")
        .first()
    )
    if membership is not None:
        return membership.workspace
    with transaction.atomic():
        name = f"{user.get_username()}'s workspace"
        workspace = Workspace.objects.create(name=name)
        Membership.objects.create(
            user=user, workspace=workspace, role=Membership.Role.ADMIN
        )
    return workspace


def _display_name(name: str) -> str:
    """Keep only the last path component of a client-supplied name, printable."""
    base = PurePath(name.replace("\\", "/")).name
    cleaned = "".join(ch for ch in base if ch.isprintable()).strip()
    return cleaned[:255] or "untitled"


def document_create(
    *, workspace: Workspace, uploader: Any, upload: UploadedFile[bytes]
) -> Created:
    """Validate an upload, store the original and queue its ingestion."""
    name = _display_name(upload.name or "untitled")
    size = upload.size or 0
    limit = settings.MAX_UPLOAD_MB * 1024 * 1024
    if size > limit:
        raise UploadRejected(
            f"{name} is {size / 1048576:.1f} MB; "
            f"the limit is {settings.MAX_UPLOAD_MB} MB.",
            status=413,
        )
    if size == 0:
        raise UploadRejected(f"{name} is empty.")
    upload.seek(0)
    head = upload.read(SNIFF_BYTES)
    try:
        mime_type = extraction.detect_mime_type(name, head)
    except extraction.ExtractionError as exc:
        raise UploadRejected(f"{name}: {exc}", status=415) from exc
    upload.seek(0)
    digest = hashlib.sha256()
    for block in upload.chunks():
        digest.update(block)
    sha256 = digest.hexdigest()
    existing = Document.objects.filter(workspace=workspace, sha256=sha256).first()
    if existing is not None:
        return Created(document=existing, duplicate=True)
    upload.seek(0)
    suffix = (
        PurePath(name).suffix.lower()[:10] if PurePath(name).suffix.isascii() else ""
    )
    with transaction.atomic():
        document = Document(
            workspace=workspace,
            uploader=uploader,
            original_name=name,
            title=PurePath(name).stem[:255] or name,
            mime_type=mime_type,
            sha256=sha256,
            size=size,
        )
        # The stored name is ours, never the client's: no path tricks reach storage.
        document.original.save(f"{document.id}{suffix}", upload, save=False)
        document.save()
        _enqueue_on_commit(document)
    return Created(document=document, duplicate=False)


def _enqueue_on_commit(document: Document) -> None:
    document_id = str(document.id)

    def send() -> None:
        from documents.tasks import ingest_task

        try:
            ingest_task.delay(document_id)
        except Exception:
            # The row is committed as queued; the sweeper re-sends it later.
            log.exception(
                "could not queue document %s; the sweeper will retry", document_id
            )

    transaction.on_commit(send)


def document_retry(*, document: Document) -> None:
    """Queue a failed (or stuck) document for another ingestion."""
    with transaction.atomic():
        Document.objects.filter(id=document.id).update(
            status=Document.Status.QUEUED, stage="", progress=0, error=""
        )
        _enqueue_on_commit(document)


def document_delete(*, document: Document) -> None:
    """Delete a document, its chunks, its original and its remote file."""
    from documents.remote.files import remote_file_forget, tombstones_drain

    file_id = document.file_id
    with transaction.atomic():
        if file_id:
            # A tombstone, not a bare call: the delete stays owed if the Files
            # API is down now; the periodic drain retries it with backoff.
            remote_file_forget(file_id=file_id, reason=f"deleted {document.id}")
        document.delete()
    document.original.delete(save=False)
    if file_id and files_api.online():
        try:
            # One quick attempt now, so the common case leaves nothing behind.
            tombstones_drain(file_ids=[file_id], retries=0)
        except Exception:
            log.exception("remote file %s stays tombstoned", file_id)


def requeue_stale() -> int:
    """Re-queue documents left queued or stuck in processing; return how many."""
    cutoff = timezone.now() - timedelta(minutes=settings.STALE_PROCESSING_MINUTES)
    stale = list(
        Document.objects.filter(
            status=Document.Status.PROCESSING, updated__lt=cutoff
        ).values_list("id", flat=True)
    ) + list(
        Document.objects.filter(
            status=Document.Status.QUEUED,
            updated__lt=timezone.now() - timedelta(minutes=2),
        ).values_list("id", flat=True)
    )
    from documents.tasks import ingest_task

    for document_id in stale:
        Document.objects.filter(id=document_id).update(updated=timezone.now())
        ingest_task.delay(str(document_id))
    return len(stale)


# Ingestion ------------------------------------------------------------------

_STAGES = {
    "extracting": (0, 40),
    "chunking": (40, 45),
    "uploading": (45, 55),
    "embedding": (55, 95),
    "storing": (95, 100),
}


class _Progress:
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


@contextmanager
def _document_lock(document_id: Any) -> Iterator[bool]:
    """Hold a session-level advisory lock on a document while it is ingested.

    The lock dies with the database connection, so a worker killed mid-document
    never leaves it locked, while two live workers never ingest it at once.
    """
    key = int.from_bytes(
        hashlib.blake2b(str(document_id).encode(), digest_size=8).digest(),
        "big",
        signed=True,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        locked = bool(cursor.fetchone()[0])
    try:
        yield locked
    finally:
        if locked:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def document_ingest(*, document_id: Any, stage: str = "all") -> bool:
    """Run the pipeline, or one stage of it, for one document; safe to run twice.

    Stages: "extract" (CPU-bound: read the file, store its text), "index"
    (network-bound: chunk, upload, embed, store chunks) or "all". Returns whether
    the document is ready for the next stage.
    """
    with _document_lock(document_id) as locked:
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
                attempts=F("attempts") + 1,
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
            document_fail(document_id=document_id, reason=str(exc))
            return False
        except TransientError:
            raise
        except Exception as exc:
            log.exception("ingestion of %s failed", document_id)
            document_fail(document_id=document_id, reason=f"Ingestion failed: {exc}")
            return False
        return True


def document_fail(*, document_id: Any, reason: str) -> None:
    """Mark a document failed with a reason a person can act on."""
    Document.objects.filter(id=document_id).update(
        status=Document.Status.FAILED, error=reason[:2000], stage="failed"
    )


def _transient(exc: Exception) -> bool:
    import anthropic
    import voyageai.error

    return isinstance(
        exc,
        anthropic.APIConnectionError
        | anthropic.RateLimitError
        | anthropic.InternalServerError
        | voyageai.error.RateLimitError
        | voyageai.error.ServiceUnavailableError
        | voyageai.error.APIConnectionError
        | voyageai.error.ServerError
        | voyageai.error.Timeout,
    )


def _extract(document: Document) -> extraction.Extracted:
    progress = _Progress(document.id)
    if document.source_url and not document.original:
        from documents.web import documents as web_documents

        # A URL document's first run fetches its snapshot, then ingests it.
        web_documents.fetch_snapshot(document)
    progress("extracting", force=True)
    with document.original.open("rb") as handle:
        data = handle.read()
    extracted = extraction.extract(
        data,
        document.mime_type,
        on_page=lambda done, total: progress("extracting", done, total, unit="page"),
    )
    document.text = extracted.text
    document.page_starts = extracted.page_starts
    document.pages = extracted.pages
    document.save(update_fields=["text", "page_starts", "pages", "updated"])
    return extracted


def _index(document: Document, extracted: extraction.Extracted | None) -> None:
    progress = _Progress(document.id)
    if extracted is None:
        if not document.text:
            raise extraction.ExtractionError("The document was never extracted.")
        extracted = extraction.Extracted(
            text=document.text,
            mime_type=document.mime_type,
            page_starts=list(document.page_starts or []),
        )
    progress("chunking", force=True)
    specs = chunk_extracted(extracted)
    if not specs:
        raise extraction.ExtractionError("The document has no text to index.")

    progress("uploading", force=True)
    try:
        _upload_once(document)
    except Exception as exc:
        if _transient(exc):
            raise TransientError(str(exc)) from exc
        raise

    texts = [extracted.text[spec.start : spec.end] for spec in specs]
    contextual = [
        spaces.embedding_input(
            title=document.title, heading=spec.heading, context=spec.context, text=text
        )
        for spec, text in zip(specs, texts, strict=True)
    ]
    progress("embedding", 0, len(texts), force=True, unit="chunk")

    def store(
        vectors: dict[int, list[list[float]]], live: list[EmbeddingSpace]
    ) -> None:
        progress("storing", force=True)
        active = next(space for space in live if space.status == "active")
        _store_chunks(document, specs, texts, vectors, active.model)

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
        if _transient(exc):
            raise TransientError(str(exc)) from exc
        raise


def chunk_extracted(extracted: extraction.Extracted) -> list[chunking.ChunkSpec]:
    """Chunk extracted text the way its format wants, sized by settings."""
    if extracted.mime_type == extraction.CSV:
        return chunking.chunk_rows(
            extracted.text,
            formats.csv_row_ends(extracted.text),
            max_tokens=settings.CHUNK_TOKENS,
        )
    return chunking.chunk_text(
        extracted.text,
        extracted.page_starts,
        max_tokens=settings.CHUNK_TOKENS,
        overlap_tokens=settings.CHUNK_OVERLAP_TOKENS,
    )


def _upload_once(document: Document) -> None:
    """Upload to the Files API unless this document already has its file."""
    from documents.remote.files import document_upload

    document_upload(document=document)


def _store_chunks(
    document: Document,
    specs: list[chunking.ChunkSpec],
    texts: list[str],
    vectors: dict[int, list[list[float]]],
    model: str,
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
            embedding_model=model,
            ingested=timezone.now(),
        )
