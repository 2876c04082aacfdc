"""Writes for documents added by URL: create, and refresh.

The fetch itself is the first stage of ingestion (documents.ingestion.fetch);
a changed page is queued for the normal ingestion, with its retries and its
failure hook, never ingested inline.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.db import IntegrityError, transaction
from django.utils import timezone

from documents import queue, services
from documents.ingestion import extraction, failures
from documents.ingestion.fetch import fetch_page, store_snapshot
from documents.ingestion.locks import document_lock
from documents.models import UNIQUE_URL, Document, Workspace
from documents.remote import web as web_sources
from documents.remote.files import remote_file_release
from documents.remote.intranet import Allowlist

log = logging.getLogger(__name__)


def check_url_for_workspace(*, workspace: Workspace, url: str) -> web_sources.Target:
    """Check a URL's form, the workspace's domain lists and its address.

    A URL that will never be fetched (an internal address the workspace has
    not allowed, a blocked domain) raises WebError now, so the API answers
    400 and the page says so, instead of a document that fails later.
    """
    target = web_sources.check_url(
        url, allowed=workspace.allowed_domains, blocked=workspace.blocked_domains
    )
    web_sources.refuse_internal_now(target, Allowlist.parse(workspace.intranet_sources))
    return target


def document_create_from_url(
    *, workspace: Workspace, uploader: Any, url: str
) -> services.Created:
    """Check a URL and queue a document that a worker fetches, then ingests.

    A URL already here whose fetch failed is queued again: it passed the
    checks just now, so whatever refused it (a list, a down site) changed.
    The URL is stored normalised and unique per workspace (UNIQUE_URL), so of
    concurrent adds of one address one creates the document and the others
    are answered as its duplicates.
    """
    if not isinstance(url, str) or not url.strip():
        raise web_sources.WebError(web_sources.INVALID_INPUT, "Give a URL to add.")
    target = check_url_for_workspace(workspace=workspace, url=url)
    source_url = normalised_url(target.url)
    with transaction.atomic():
        # The row lock makes concurrent re-adds of a failed URL queue it once.
        existing = (
            Document.objects.select_for_update()
            .filter(workspace=workspace, source_url=source_url)
            .first()
        )
        if existing is not None and _fetch_failed(existing):
            services.document_retry(document=existing)
            existing.refresh_from_db()
            return services.Created(document=existing, duplicate=False)
    if existing is not None:
        return services.Created(document=existing, duplicate=True)
    try:
        with transaction.atomic():
            document = Document.objects.create(
                workspace=workspace,
                uploader=uploader,
                source_url=source_url,
                original_name=source_url[:255],
                title=web_sources.default_title(source_url),
                mime_type="",
                sha256="",
                size=0,
                stage="fetching",
            )
            services.queue_ingest(document)
    except IntegrityError as exc:
        # Another request added the same URL between the check and the insert.
        if not services.is_violation_of(exc, UNIQUE_URL):
            raise
        existing = Document.objects.get(workspace=workspace, source_url=source_url)
        return services.Created(document=existing, duplicate=True)
    return services.Created(document=document, duplicate=False)


def normalised_url(url: str) -> str:
    """One spelling per address: scheme and host lower-cased, no default port,
    "/" for an empty path, no fragment (never sent to the server)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    default = {"http": 80, "https": 443}.get(scheme)
    netloc = host if port in (None, default) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def _fetch_failed(document: Document) -> bool:
    return document.status == Document.Status.FAILED and (
        not document.original or failures.kind_for(document.failure_kind).retryable
    )


def document_refresh(*, document: Document) -> None:
    """Queue a re-fetch of a URL document."""
    if not document.source_url:
        raise ValueError("Only documents added by URL can be refreshed.")
    queue.send_on_commit(queue.REFRESH, str(document.id))


def document_refetch(*, document_id: Any) -> bool:
    """Re-fetch a URL document; queue its ingestion only if its content changed.

    Returns whether a new snapshot was stored and queued.
    """
    # The ingestion lock keeps two refreshes, or a refresh and an ingestion,
    # from swapping the snapshot under each other.
    with document_lock(document_id) as locked:
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
        fetched = fetch_page(found)
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
    store_snapshot(found, fetched)
    with transaction.atomic():
        Document.objects.filter(id=found.id).update(
            status=Document.Status.QUEUED,
            file_id="",
            stage="",
            progress=0,
            error="",
            failure_kind="",
            updated=timezone.now(),
        )
        if old_file_id:
            # Owed, not deleted here: a Files API outage must not orphan it.
            remote_file_release(file_id=old_file_id, reason=f"refreshed {found.id}")
        services.queue_ingest(found)
    return True
