"""Writes for documents added by URL: create, fetch the snapshot, refresh."""

from __future__ import annotations

import hashlib
import logging
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from documents import services
from documents.ingestion import extraction
from documents.models import Document, Workspace
from documents.remote import files_api
from documents.remote import web as web_sources

log = logging.getLogger(__name__)

_SUFFIX = {"text/html": ".html", "text/plain": ".txt", "application/pdf": ".pdf"}


def check_url_for_workspace(*, workspace: Workspace, url: str) -> web_sources.Target:
    """Check a URL's form and the workspace's domain lists; raise WebError."""
    return web_sources.check_url(
        url, allowed=workspace.allowed_domains, blocked=workspace.blocked_domains
    )


def document_create_from_url(
    *, workspace: Workspace, uploader: Any, url: str
) -> services.Created:
    """Check a URL and queue a document that a worker fetches, then ingests."""
    if not isinstance(url, str) or not url.strip():
        raise web_sources.WebError(web_sources.INVALID_INPUT, "Give a URL to add.")
    target = check_url_for_workspace(workspace=workspace, url=url)
    existing = Document.objects.filter(
        workspace=workspace, source_url=target.url
    ).first()
    if existing is not None:
        return services.Created(document=existing, duplicate=True)
    with transaction.atomic():
        document = Document.objects.create(
            workspace=workspace,
            uploader=uploader,
            source_url=target.url,
            original_name=target.url[:255],
            title=web_sources.default_title(target.url),
            mime_type="",
            sha256="",
            size=0,
            stage="fetching",
        )
        services._enqueue_on_commit(document)
    return services.Created(document=document, duplicate=False)


def _fetch(document: Document) -> web_sources.Fetched:
    workspace = document.workspace
    try:
        return web_sources.fetch(
            document.source_url,
            allowed=workspace.allowed_domains,
            blocked=workspace.blocked_domains,
        )
    except web_sources.WebError as exc:
        # An ExtractionError fails the document with this reason, code included.
        raise extraction.ExtractionError(str(exc)) from exc


def _store_snapshot(document: Document, fetched: web_sources.Fetched) -> None:
    """Keep the fetched bytes as the document's original file."""
    data = fetched.data
    if fetched.mime_type == "text/html" and fetched.charset:
        # Record the declared charset in the bytes so the snapshot decodes alone.
        text = data.decode(fetched.charset, errors="replace")
        data = text.encode("utf-8")
    suffix = _SUFFIX[fetched.mime_type]
    if document.original:
        document.original.delete(save=False)
    document.original.save(f"{document.id}{suffix}", ContentFile(data), save=False)
    document.mime_type = fetched.mime_type
    document.sha256 = hashlib.sha256(fetched.data).hexdigest()
    document.size = len(data)
    document.fetched_at = fetched.retrieved_at
    document.title = fetched.title[:255]
    document.original_name = snapshot_name(fetched.url, suffix)
    document.save(
        update_fields=[
            "original_name",
            "original",
            "mime_type",
            "sha256",
            "size",
            "fetched_at",
            "title",
            "updated",
        ]
    )


def snapshot_name(url: str, suffix: str) -> str:
    """A file name for a snapshot: the URL's last path segment, or its host."""
    parts = urlsplit(url)
    name = PurePosixPath(unquote(parts.path)).name or parts.hostname or "page"
    if not name.lower().endswith(suffix):
        name += suffix
    return services._display_name(name)


def fetch_snapshot(document: Document) -> None:
    """Fetch a URL document's page and store it as its original (in the worker)."""
    Document.objects.filter(id=document.id).update(stage="fetching")
    _store_snapshot(document, _fetch(document))


def document_refresh(*, document: Document) -> None:
    """Queue a re-fetch of a URL document."""
    if not document.source_url:
        raise ValueError("Only documents added by URL can be refreshed.")
    document_id = str(document.id)

    def send() -> None:
        from documents.tasks import refresh_task

        refresh_task.delay(document_id)

    transaction.on_commit(send)


def document_refetch(*, document_id: Any) -> bool:
    """Re-fetch a URL document; re-ingest only if its content changed."""
    # The ingestion lock (re-entrant within this session) keeps two refreshes,
    # or a refresh and an ingestion, from swapping the snapshot under each other.
    with services._document_lock(document_id) as locked:
        if not locked:
            log.info("document %s is locked by another worker", document_id)
            return False
        return _refetch(document_id)


def _refetch(document_id: Any) -> bool:
    found = Document.objects.select_related("workspace").filter(id=document_id).first()
    if found is None or not found.source_url:
        return False
    if found.status in (Document.Status.QUEUED, Document.Status.PROCESSING):
        log.info("document %s is being ingested; refresh skipped", document_id)
        return False
    try:
        fetched = _fetch(found)
    except extraction.ExtractionError as exc:
        # The old snapshot stays searchable; the failed refresh is noted.
        Document.objects.filter(id=found.id).update(
            error=f"Refresh failed: {exc}"[:2000], updated=timezone.now()
        )
        return False
    if hashlib.sha256(fetched.data).hexdigest() == found.sha256:
        Document.objects.filter(id=found.id).update(
            fetched_at=fetched.retrieved_at, error="", updated=timezone.now()
        )
        return False
    old_file_id = found.file_id
    _store_snapshot(found, fetched)
    Document.objects.filter(id=found.id).update(
        status=Document.Status.QUEUED, file_id="", stage="", progress=0, error=""
    )
    if old_file_id and files_api.online():
        files_api.delete(old_file_id)
    services.document_ingest(document_id=found.id)
    return True
