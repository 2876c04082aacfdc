"""Claude's Files API: the one place Cairn uploads and deletes remote files.

The Files API is generally available: `client.files` sends no beta header.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import PurePath
from typing import Any, TypeVar

import anthropic
from django.conf import settings

from documents.models import IMAGE_TYPES
from documents.remote.errors import (
    backoff_delay,
    outside_call,
    retry_after,
    transient,
)
from documents.remote.ratelimit import files_api_limiter

log = logging.getLogger(__name__)
T = TypeVar("T")

_FORBIDDEN = re.compile(r'[<>:"|?*\\/\x00-\x1f]')


class FileTooLarge(Exception):
    """The Files API refused the file for its size; the document stays searchable."""


class StorageFull(Exception):
    """The organisation's Files API storage is full; uploads pause."""


def online() -> bool:
    """Tell whether Claude (and so the Files API) is configured."""
    return bool(settings.ANTHROPIC_API_KEY)


@lru_cache(maxsize=2)
def _client(api_key: str, base_url: str | None) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key=api_key,
        base_url=base_url,
        max_retries=settings.API_MAX_RETRIES,
        timeout=120.0,
    )


def forget_clients() -> None:
    """Drop the cached client, so changed settings take effect (tests, bench)."""
    _client.cache_clear()


def client() -> anthropic.Anthropic:
    """Return the shared Anthropic client for the configured key and base URL."""
    return _client(settings.ANTHROPIC_API_KEY, settings.ANTHROPIC_BASE_URL)


def remote_filename(original_name: str, *, as_text: bool) -> str:
    """Return a filename the Files API accepts (1-255 chars, none forbidden)."""
    path = PurePath(original_name.replace("\\", "/")).name
    stem = _FORBIDDEN.sub("_", PurePath(path).stem).strip(" .") or "document"
    suffix = ".txt" if as_text else _FORBIDDEN.sub("_", PurePath(path).suffix)[:10]
    return stem[: 255 - len(suffix)] + suffix


def _files() -> Any:
    """The Files resource without SDK retries: call() retries, rate-limited."""
    return client().with_options(max_retries=0).files


def call(operation: Callable[[], T], *, retries: int | None = None) -> T:
    """Run one Files API call under the shared rate limit, retrying transient errors."""
    limiter = files_api_limiter()
    retries = settings.FILES_API_MAX_RETRIES if retries is None else retries
    attempt = 0
    while True:
        limiter.acquire()
        try:
            with outside_call("files_api"):
                return operation()
        except Exception as exc:
            if not transient(exc) or attempt >= retries:
                raise
            delay = backoff_delay(
                attempt,
                base=float(settings.FILES_API_BACKOFF_S),
                cap=float(settings.FILES_API_BACKOFF_MAX_S),
                retry_after=retry_after(exc),
            )
            log.info("Files API: %s; retry %d in %.2fs", exc, attempt + 1, delay)
            time.sleep(delay)
            attempt += 1


def _mapped(exc: Exception) -> Exception | None:
    """Turn an API refusal into the error Cairn acts on, if it is one we map."""
    if not isinstance(exc, anthropic.APIStatusError):
        return None
    message = str(getattr(exc, "api_message", "") or exc).lower()
    code = getattr(exc, "error_code", None)
    if exc.status_code == 413 or "context window" in message:
        return FileTooLarge(
            "The Files API refused the file as too large "
            f"({exc.status_code}: {getattr(exc, 'api_message', '') or exc})."
        )
    if code == "storage_quota_exceeded" or (
        exc.status_code == 403 and "storage" in message
    ):
        return StorageFull(
            "The organisation's Files API storage is full; uploads are paused "
            "until an admin frees space."
        )
    return None


@dataclass(frozen=True)
class RemoteFile:
    """A file the Files API holds, as its metadata describes it."""

    id: str
    filename: str
    created: datetime | None
    size: int
    # None: the file never expires (uploaded without expires_in_seconds).
    expires_at: datetime | None = None

    def expired(self, now: datetime | None = None) -> bool:
        """Past expires_at: the metadata is still listed, but the bytes are gone."""
        return self.expires_at is not None and self.expires_at <= (
            now or datetime.now(UTC)
        )


def upload(*, original_name: str, data: bytes, mime_type: str) -> RemoteFile:
    """Upload a file; return its id and, with FILES_API_EXPIRES_IN_S, its expiry.

    PDFs go up as PDFs (page citations) and images as images (image blocks);
    everything else goes up as the extracted UTF-8 text, so char_location
    citations index into Cairn's text.
    """
    as_text = mime_type != "application/pdf" and mime_type not in IMAGE_TYPES
    name = remote_filename(original_name, as_text=as_text)
    lifetime = settings.FILES_API_EXPIRES_IN_S
    extra: dict[str, Any] = {} if lifetime is None else {"expires_in_seconds": lifetime}
    try:
        result = call(
            lambda: _files().upload(
                file=(name, data, "text/plain" if as_text else mime_type), **extra
            )
        )
    except Exception as exc:
        mapped = _mapped(exc)
        if mapped is not None:
            raise mapped from exc
        raise
    return _remote(result)


# Datasets handed to the code execution container live an hour at most: Cairn
# deletes them after the answer, and the expiry covers a delete that failed.
DATASET_EXPIRES_IN_S = 3600


def upload_dataset(*, original_name: str, data: bytes, mime_type: str) -> RemoteFile:
    """Upload a file as it is (name and type kept) for a container_upload block."""
    name = remote_filename(original_name, as_text=False)
    try:
        result = call(
            lambda: _files().upload(
                file=(name, data, mime_type),
                expires_in_seconds=DATASET_EXPIRES_IN_S,
            )
        )
    except Exception as exc:
        mapped = _mapped(exc)
        if mapped is not None:
            raise mapped from exc
        raise
    return _remote(result)


@dataclass(frozen=True)
class Downloaded:
    """A file the code execution tool made, with its bytes."""

    id: str
    filename: str
    mime_type: str
    data: bytes


def download(file_id: str, *, max_bytes: int) -> Downloaded:
    """Download a file the code execution tool created (uploads cannot be).

    Raises FileTooLarge past max_bytes, as announced by its metadata, before
    reading it; the API's own refusal (400 file_not_downloadable) passes up.
    """
    meta = call(lambda: _files().retrieve_metadata(file_id))
    if int(meta.size_bytes) > max_bytes:
        raise FileTooLarge(
            f"{meta.filename} is {int(meta.size_bytes):,} bytes; answers keep files "
            f"of at most {max_bytes:,}."
        )
    response = call(lambda: _files().download(file_id))
    data = bytes(response.read())
    if len(data) > max_bytes:
        raise FileTooLarge(f"{meta.filename} is larger than {max_bytes:,} bytes.")
    return Downloaded(
        id=file_id,
        filename=str(meta.filename),
        mime_type=str(getattr(meta, "mime_type", "") or "application/octet-stream"),
        data=data,
    )


def delete(file_id: str, *, retries: int | None = None) -> None:
    """Delete a remote file; a file already gone counts as deleted."""
    with contextlib.suppress(anthropic.NotFoundError):
        call(lambda: _files().delete(file_id), retries=retries)


def metadata(file_id: str) -> RemoteFile | None:
    """A remote file's metadata, or None when the file is gone (404)."""
    try:
        return _remote(call(lambda: _files().retrieve_metadata(file_id)))
    except anthropic.NotFoundError:
        return None


def usable(file_id: str) -> bool:
    """Tell whether a remote file can still be referenced: there and not expired."""
    found = metadata(file_id)
    return found is not None and not found.expired()


def find_upload(name: str, size: int, since: datetime) -> list[RemoteFile]:
    """Remote files with this name and size created since `since`."""
    return [
        found
        for found in remote_files()
        if found.filename == name
        and found.size == size
        and (found.created is None or found.created >= since)
    ]


def remote_files() -> Iterator[RemoteFile]:
    """Every remote file, page by page, rate-limited."""
    page = call(lambda: _files().list(limit=100))
    while True:
        for item in page.data:
            yield _remote(item)
        if not page.has_next_page():
            return
        page = call(page.get_next_page)


def _remote(item: Any) -> RemoteFile:
    return RemoteFile(
        id=str(item.id),
        filename=str(item.filename),
        created=item.created_at,
        size=int(item.size_bytes),
        expires_at=getattr(item, "expires_at", None),
    )
