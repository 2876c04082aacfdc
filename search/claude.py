"""Claude's Messages API: the one place Cairn asks Claude for an answer."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anthropic
from django.conf import settings
from django.core.cache import cache

from documents.remote import files_api
from documents.remote.errors import outside_call

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
        with outside_call("messages"):
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
        with outside_call("messages"), manager as stream:
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


@dataclass(frozen=True)
class ModelStatus:
    """Where a model stands in its lifecycle, as the Models API tells."""

    id: str
    # active | deprecated | retired (the API's), unknown (not a model the API
    # knows), or unchecked (the Models API did not answer).
    lifecycle: str
    display_name: str = ""
    deprecated_at: str | None = None
    retires_at: str | None = None
    max_input_tokens: int | None = None
    error: str = ""

    @property
    def usable(self) -> bool:
        """False only when the API says the model cannot answer."""
        return self.lifecycle not in ("retired", "unknown")

    def notice(self) -> str | None:
        """A sentence for admins when the model needs attention, else None."""
        retires = f" on {self.retires_at[:10]}" if self.retires_at else ""
        if self.lifecycle == "deprecated":
            return (
                f"{self.id} is deprecated and retires{retires or ' soon'}; "
                "set CLAUDE_MODEL to a current model."
            )
        if self.lifecycle == "retired":
            return (
                f"{self.id} was retired{retires}: the API refuses it. "
                "Set CLAUDE_MODEL to a current model."
            )
        if self.lifecycle == "unknown":
            return f"{self.id} is not a model the Anthropic API knows (CLAUDE_MODEL)."
        return None


MODELS_CACHE_KEY = "claude:models"
MODELS_CACHE_S = 3600


def models_catalogue() -> list[dict[str, Any]]:
    """Every model the API lists, with its lifecycle (cached for an hour)."""
    cached = cache.get(MODELS_CACHE_KEY)
    if cached is not None:
        return list(cached)
    found = [
        {
            "id": info.id,
            "display_name": info.display_name,
            "lifecycle": info.lifecycle,
            "deprecated_at": _iso(info.deprecated_at),
            "retires_at": _iso(info.retires_at),
            "max_input_tokens": info.max_input_tokens,
        }
        for info in files_api.client().models.list(limit=1000)
    ]
    cache.set(MODELS_CACHE_KEY, found, MODELS_CACHE_S)
    return found


def model_status(model_id: str | None = None) -> ModelStatus:
    """The configured (or given) model's lifecycle; an alias is looked up by id."""
    wanted = model_id or model()
    failed = cache.get(MODELS_CACHE_KEY + ":error")
    if failed is not None:
        return ModelStatus(id=wanted, lifecycle="unchecked", error=str(failed))
    try:
        listed = {entry["id"]: entry for entry in models_catalogue()}
        entry = listed.get(wanted)
        if entry is None:
            # An alias is not listed; retrieving it names the model it points at.
            info = files_api.client().models.retrieve(wanted)
            entry = listed.get(info.id) or {
                "id": info.id,
                "display_name": info.display_name,
                "lifecycle": info.lifecycle,
                "deprecated_at": _iso(info.deprecated_at),
                "retires_at": _iso(info.retires_at),
                "max_input_tokens": info.max_input_tokens,
            }
    except anthropic.NotFoundError:
        return ModelStatus(id=wanted, lifecycle="unknown")
    except anthropic.APIError as exc:
        # Pages and checks ask often; a down API is asked again in five minutes.
        cache.set(MODELS_CACHE_KEY + ":error", str(exc), 300)
        return ModelStatus(id=wanted, lifecycle="unchecked", error=str(exc))
    return ModelStatus(**(entry | {"id": wanted}))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def model() -> str:
    """The configured Claude model (CLAUDE_MODEL)."""
    return str(settings.CLAUDE_MODEL)
