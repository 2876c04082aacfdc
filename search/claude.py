"""Claude's Messages API: the one place Cairn asks Claude for an answer."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from typing import Any

import anthropic
from django.conf import settings

from documents.remote import files_api

log = logging.getLogger(__name__)


class FileMissing(Exception):
    """A file the request referenced cannot be read any more (404).

    `expired` tells the 404 `file_expired` (FileExpiredError: the metadata is
    still listed, only the bytes are gone) from a file that was deleted.
    """

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


# The raw stream events Cairn reads; the SDK's convenience events repeat them.
RAW_EVENTS = frozenset(
    {
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    }
)


def create_message(request: dict[str, Any]) -> dict[str, Any]:
    """Send a Messages request and return the message as plain JSON.

    Citations, file document sources, search_result blocks, the web fetch tool
    and prompt caching are all generally available: no beta header is sent.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeprecationWarning)
        message = files_api.client().messages.create(**request)
    _log_warnings(caught)
    result: dict[str, Any] = message.model_dump(mode="json")
    return result


def stream_message(request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Stream a Messages request: raw events as JSON, then the final message.

    The last item is {"type": "final_message", "message": {...}}.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeprecationWarning)
        manager = files_api.client().messages.stream(**request)
    _log_warnings(caught)
    try:
        with manager as stream:
            for event in stream:
                if event.type in RAW_EVENTS:
                    yield event.model_dump(mode="json")
            final = stream.get_final_message().model_dump(mode="json")
    except anthropic.NotFoundError as exc:
        # FileExpiredError is a NotFoundError with error_code "file_expired".
        expired = getattr(exc, "error_code", None) == "file_expired"
        raise FileMissing(str(exc), expired=expired) from exc
    yield {"type": "final_message", "message": final}


def _log_warnings(caught: list[warnings.WarningMessage]) -> None:
    for warning in caught:
        # The SDK warns about models near end of life; surface it where admins look.
        log.warning("anthropic SDK: %s", warning.message)


def deprecation_notice() -> str | None:
    """The SDK's end-of-life date for the configured model, as a sentence, if any."""
    try:
        from anthropic._data import DEPRECATED_MODELS
    except (
        ImportError
    ):  # the SDK moved its table; its own warning still reaches the log
        return None
    end_of_life = DEPRECATED_MODELS.get(model())
    if end_of_life is None:
        return None
    return (
        f"{model()} reaches end of life on {end_of_life} (anthropic SDK); "
        "set CLAUDE_MODEL to a current model."
    )


def model() -> str:
    """The configured Claude model (CLAUDE_MODEL)."""
    return str(settings.CLAUDE_MODEL)
