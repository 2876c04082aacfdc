"""Claude's Files API (beta): the one place Cairn uploads and deletes remote files."""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import lru_cache
from pathlib import PurePath
from typing import Any, TypeVar

import anthropic
from django.conf import settings

from documents.remote.errors import backoff_delay, retry_after, transient
from documents.remote.ratelimit import files_api_limiter

log = logging.getLogger(__name__)
T = TypeVar("T")

FILES_BETA = "files-api-2025-04-14"
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
    """The beta Files resource without SDK retries: _call retries, rate-limited."""
    return client().with_options(max_retries=0).beta.files


def call(operation: Callable[[], T], *, retries: int | None = None) -> T:
    """Run one Files API call under the shared rate limit, retrying transient errors."""
    limiter = files_api_limiter()
    retries = settings.FILES_API_MAX_RETRIES if retries is None else retries
    attempt = 0
    while True:
        limiter.acquire()
        try:
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


def upload(*, original_name: str, data: bytes, mime_type: str) -> str:
    """Upload a file and return its file_id.

    PDFs go up as PDFs (page citations); everything else goes up as the
    extracted UTF-8 text, so char_location citations index into Cairn's text.
    """
    as_text = mime_type != "application/pdf"
    name = remote_filename(original_name, as_text=as_text)
    try:
        result = call(
            lambda: _files().upload(
                file=(name, data, "text/plain" if as_text else mime_type),
                betas=[FILES_BETA],
            )
        )
    except Exception as exc:
        mapped = _mapped(exc)
        if mapped is not None:
            raise mapped from exc
        raise
    return str(result.id)


def delete(file_id: str, *, retries: int | None = None) -> None:
    """Delete a remote file; a file already gone counts as deleted."""
    with contextlib.suppress(anthropic.NotFoundError):
        call(lambda: _files().delete(file_id, betas=[FILES_BETA]), retries=retries)


def exists(file_id: str) -> bool:
    """Tell whether a remote file is still there."""
    try:
        call(lambda: _files().retrieve_metadata(file_id, betas=[FILES_BETA]))
    except anthropic.NotFoundError:
        return False
    return True


def find_upload(name: str, size: int, since: datetime) -> list[str]:
    """Ids of remote files with this name and size created since `since`."""
    return [
        file_id
        for file_id, filename, created, file_size in _remote_metadata()
        if filename == name
        and file_size == size
        and (created is None or created >= since)
    ]


def remote_files() -> Iterator[tuple[str, str, datetime | None]]:
    """Every remote file as (id, filename, created), page by page, rate-limited."""
    for file_id, filename, created, _size in _remote_metadata():
        yield file_id, filename, created


def _remote_metadata() -> Iterator[tuple[str, str, datetime | None, int]]:
    page = call(lambda: _files().list(betas=[FILES_BETA], limit=100))
    while True:
        for item in page.data:
            yield str(item.id), str(item.filename), item.created_at, item.size_bytes
        if not page.has_next_page():
            return
        page = call(page.get_next_page)
