"""Intake: a user's workspace, and a document's creation, retry, tags and deletion.

The ingestion itself lives in documents.ingestion, reached through the queue.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from documents import queue
from documents.ingestion import extraction
from documents.ingestion.extraction import display_name
from documents.models import UNIQUE_UPLOAD, Document, Membership, Workspace
from documents.page_images import page_images_delete
from documents.remote.files import remote_file_release

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    AnyUser = AbstractBaseUser | AnonymousUser

log = logging.getLogger(__name__)

SNIFF_BYTES = 8192
MAX_TAGS = 20


class UploadRejected(Exception):
    """An upload refused before ingestion; status says which HTTP status fits."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class TagsRejected(ValueError):
    """Tags refused with a reason the user can read."""


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
        # A new user's first requests arrive together (the page and its polling):
        # the user's row lock makes them wait here, and the check is repeated
        # under it, so only the first creates a workspace and the others join it.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        membership = (
            Membership.objects.filter(user=user)
            .select_related("workspace")
            .order_by("id")
            .first()
        )
        if membership is not None:
            return membership.workspace
        name = f"{user.get_username()}'s workspace"
        workspace = Workspace.objects.create(name=name)
        Membership.objects.create(
            user=user, workspace=workspace, role=Membership.Role.ADMIN
        )
    return workspace


def document_create(
    *, workspace: Workspace, uploader: Any, upload: UploadedFile[bytes]
) -> Created:
    """Validate an upload, store the original and queue its ingestion."""
    name = display_name(upload.name or "untitled")
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
    try:
        with transaction.atomic():
            document.save()
            queue_ingest(document)
    except IntegrityError as exc:
        # Two uploads of the same bytes raced past the check above; the unique
        # constraint let one in, and this one is answered as its duplicate.
        document.original.delete(save=False)
        if not is_violation_of(exc, UNIQUE_UPLOAD):
            raise
        existing = Document.objects.get(
            workspace=workspace, sha256=sha256, source_url=""
        )
        return Created(document=existing, duplicate=True)
    return Created(document=document, duplicate=False)


def queue_ingest(document: Document) -> None:
    """Queue a document's ingestion on commit; if the broker refuses, say so.

    The document stays queued, its stage reads "waiting for the queue" on the
    pages and in the API (and on `document` itself, for the response being
    written), and the sweeper sends it once the broker is back. A worker's
    claim replaces the stage.
    """

    def unsent() -> None:
        document.stage = queue.WAITING_FOR_QUEUE
        Document.objects.filter(id=document.id, status=Document.Status.QUEUED).update(
            stage=queue.WAITING_FOR_QUEUE, updated=timezone.now()
        )

    queue.send_on_commit(queue.INGEST, str(document.id), unsent=unsent)


def is_violation_of(exc: IntegrityError, constraint: str) -> bool:
    """Whether an insert failed on this unique constraint (and no other)."""
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None) == constraint


def document_retry(*, document: Document) -> None:
    """Queue a failed (or stuck) document for another ingestion."""
    with transaction.atomic():
        Document.objects.filter(id=document.id).update(
            status=Document.Status.QUEUED,
            stage="",
            progress=0,
            error="",
            failure_kind="",
            updated=timezone.now(),
        )
        queue_ingest(document)


def document_delete(*, document: Document) -> None:
    """Delete a document, its chunks, its original and its remote file."""
    # delete() clears the primary key; the cached page images are named by it.
    document_id = document.id
    with transaction.atomic():
        if document.file_id:
            # Owed, not a bare call: the delete stays owed if the Files API is
            # down now; the periodic drain retries it with backoff.
            remote_file_release(
                file_id=document.file_id, reason=f"deleted {document.id}"
            )
        document.delete()
    document.original.delete(save=False)
    page_images_delete(document_id=document_id)


# Tags ---------------------------------------------------------------------------


def parse_tags(raw: str | list[Any]) -> list[str]:
    """Normalise tags: trimmed, lower-case, unique, in the order given."""
    items = raw.split(",") if isinstance(raw, str) else [str(t) for t in raw]
    tags: list[str] = []
    for item in items:
        tag = item.strip().lower()[:50]
        if tag and tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise TagsRejected(f"Use at most {MAX_TAGS} tags.")
    return tags


def document_set_tags(*, document: Document, tags: list[str]) -> None:
    """Replace a document's tags."""
    Document.objects.filter(id=document.id).update(tags=tags)
    document.tags = tags
