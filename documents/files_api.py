"""Claude's Files API (beta): the one place Cairn uploads and deletes remote files."""

from __future__ import annotations

import contextlib
import re
from datetime import datetime
from functools import lru_cache
from pathlib import PurePath
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    import anthropic

FILES_BETA = "files-api-2025-04-14"
_FORBIDDEN = re.compile(r'[<>:"|?*\\/\x00-\x1f]')


class FileTooLarge(Exception):
    """The Files API refused the file for its size; the document stays searchable."""


def online() -> bool:
    """Tell whether Claude (and so the Files API) is configured."""
    return bool(settings.ANTHROPIC_API_KEY)


@lru_cache(maxsize=2)
def _client(api_key: str, base_url: str | None) -> anthropic.Anthropic:
    import anthropic

    return anthropic.Anthropic(
        api_key=api_key,
        base_url=base_url,
        max_retries=settings.API_MAX_RETRIES,
        timeout=120.0,
    )


def client() -> anthropic.Anthropic:
    """Return the shared Anthropic client for the configured key and base URL."""
    return _client(settings.ANTHROPIC_API_KEY, settings.ANTHROPIC_BASE_URL)


def remote_filename(original_name: str, *, as_text: bool) -> str:
    """Return a filename the Files API accepts (1-255 chars, none forbidden)."""
    path = PurePath(original_name.replace("\\", "/")).name
    stem = _FORBIDDEN.sub("_", PurePath(path).stem).strip(" .") or "document"
    suffix = ".txt" if as_text else _FORBIDDEN.sub("_", PurePath(path).suffix)[:10]
    return stem[: 255 - len(suffix)] + suffix


def upload(*, original_name: str, data: bytes, mime_type: str) -> str:
    """Upload a file and return its file_id.

    PDFs go up as PDFs (page citations); everything else goes up as the
    extracted UTF-8 text, so char_location citations index into Cairn's text.
    """
    import anthropic

    as_text = mime_type != "application/pdf"
    name = remote_filename(original_name, as_text=as_text)
    try:
        result = client().beta.files.upload(
            file=(name, data, "text/plain" if as_text else mime_type),
            betas=[FILES_BETA],
        )
    except anthropic.APIStatusError as exc:
        if exc.status_code == 413:
            raise FileTooLarge("The Files API refused the file as too large.") from exc
        raise
    return result.id


def delete(file_id: str) -> None:
    """Delete a remote file; a file already gone counts as deleted."""
    import anthropic

    with contextlib.suppress(anthropic.NotFoundError):
        client().beta.files.delete(file_id, betas=[FILES_BETA])


def list_files() -> list[tuple[str, str, datetime]]:
    """Every remote file as (file_id, filename, created), following pagination."""
    # The SDK's page iterator fetches the next pages as the loop reaches them.
    return [
        (item.id, item.filename, item.created_at)
        for item in client().beta.files.list(betas=[FILES_BETA], limit=1000)
    ]
