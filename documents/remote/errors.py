"""Which outside-service errors deserve a retry, and how long to wait before it.

One rule for both SDKs, so an upload, an embedding batch and a Celery retry
agree on what a passing hiccup is: a timeout, a dropped connection, 408, 409,
429 or a 5xx. Everything else (a bad request, a wrong key) fails at once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.utils import parsedate_to_datetime
from functools import wraps
from typing import ParamSpec, TypeVar

import anthropic
import voyageai.error

from project import metrics

P = ParamSpec("P")
T = TypeVar("T")

RETRY_STATUSES = (408, 409, 429)

_VOYAGE_TRANSIENT = (
    voyageai.error.RateLimitError,
    voyageai.error.ServiceUnavailableError,
    voyageai.error.ServerError,
    voyageai.error.APIConnectionError,
    voyageai.error.Timeout,
    voyageai.error.TryAgain,
)

_VOYAGE_SERVER = (
    voyageai.error.ServerError,
    voyageai.error.ServiceUnavailableError,
    voyageai.error.TryAgain,
)
_VOYAGE_CLIENT = (
    voyageai.error.InvalidRequestError,
    voyageai.error.MalformedRequestError,
    voyageai.error.AuthenticationError,
)


class TransientError(Exception):
    """An outside service failed in a way worth retrying later."""


def transient(exc: BaseException) -> bool:
    """Tell whether an error from Claude or Voyage is worth another try."""
    if isinstance(exc, anthropic.APIConnectionError):
        return True
    if isinstance(exc, anthropic.APIStatusError):
        return exc.status_code in RETRY_STATUSES or exc.status_code >= 500
    return isinstance(exc, _VOYAGE_TRANSIENT)


def error_kind(exc: BaseException) -> str:
    """Name an outside-service error for metrics.

    One of rate_limit, timeout, connection, server, client, or other (not an
    API error at all: a bug of ours, a refusal of the rate limiter).
    """
    if isinstance(exc, anthropic.APITimeoutError | voyageai.error.Timeout):
        return "timeout"
    if isinstance(
        exc, anthropic.APIConnectionError | voyageai.error.APIConnectionError
    ):
        return "connection"
    if isinstance(exc, voyageai.error.RateLimitError):
        return "rate_limit"
    if isinstance(exc, _VOYAGE_SERVER):
        return "server"
    if isinstance(exc, _VOYAGE_CLIENT):
        return "client"
    status = getattr(exc, "status_code", None)
    if isinstance(exc, anthropic.APIStatusError) and isinstance(status, int):
        if status == 429:
            return "rate_limit"
        if status in (408, 504):
            return "timeout"
        return "server" if status >= 500 else "client"
    return "other"


def record_error(api: str, exc: BaseException) -> None:
    """Count a failed outside call in the metrics, by its kind."""
    metrics.api_failed(api, error_kind(exc))


@contextmanager
def outside_call(api: str) -> Iterator[None]:
    """Count, time and classify (metrics) the outside API call inside the block."""
    metrics.api_call(api)
    started = time.monotonic()
    try:
        yield
    except Exception as exc:
        # Not BaseException: a stream its reader closed early (GeneratorExit)
        # did not fail.
        record_error(api, exc)
        raise
    finally:
        metrics.api_seconds(api, time.monotonic() - started)


def counted(api: str) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Decorate a function that makes one outside API call: `outside_call` it."""

    def decorate(function: Callable[P, T]) -> Callable[P, T]:
        @wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            with outside_call(api):
                return function(*args, **kwargs)

        return wrapper

    return decorate


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (retry-after-ms or retry-after)."""
    response = getattr(exc, "response", None)
    if response is None:
        return None
    headers = response.headers
    try:
        if headers.get("retry-after-ms"):
            return float(headers["retry-after-ms"]) / 1000.0
        if headers.get("retry-after"):
            return float(headers["retry-after"])
    except ValueError:
        try:
            moment = parsedate_to_datetime(headers["retry-after"])
        except (TypeError, ValueError):
            return None
        return max(0.0, float(moment.timestamp()) - time.time())
    return None


def backoff_delay(
    attempt: int, *, base: float, cap: float, retry_after: float | None = None
) -> float:
    """Exponential backoff with equal jitter; a server's retry-after wins if longer."""
    capped = min(base * (2.0**attempt), cap)
    delay = capped / 2 + random.uniform(0, capped / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay
