"""The fetch stage of a URL document: download the page and keep the snapshot."""

from __future__ import annotations

import hashlib
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from django.core.files.base import ContentFile
from django.utils import timezone

from documents.ingestion import extraction, failures
from documents.models import Document
from documents.remote import web as web_sources
from documents.remote.intranet import Allowlist

SUFFIX = {"text/html": ".html", "text/plain": ".txt", "application/pdf": ".pdf"}


def fetch_page(document: Document) -> web_sources.Fetched:
    workspace = document.workspace
    try:
        return web_sources.fetch(
            document.source_url,
            allowed=workspace.allowed_domains,
            blocked=workspace.blocked_domains,
            intranet=Allowlist.parse(workspace.intranet_sources),
        )
    except web_sources.WebError as exc:
        # An ExtractionError fails the document with this reason, code included.
        raise extraction.ExtractionError(
            str(exc), kind=failures.kind_of_web_error(exc)
        ) from exc


def store_snapshot(document: Document, fetched: web_sources.Fetched) -> None:
    """Keep the fetched bytes as the document's original file."""
    data = fetched.data
    if fetched.mime_type == "text/html" and fetched.charset:
        # Record the declared charset in the bytes so the snapshot decodes alone.
        text = data.decode(fetched.charset, errors="replace")
        data = text.encode("utf-8")
    suffix = SUFFIX[fetched.mime_type]
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
    return extraction.display_name(name)


def fetch_snapshot(document: Document) -> None:
    """Fetch a URL document's page and store it as its original (in the worker)."""
    Document.objects.filter(id=document.id).update(
        stage="fetching", updated=timezone.now()
    )
    store_snapshot(document, fetch_page(document))
