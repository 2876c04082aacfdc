"""Structured logs: JSON lines (LOG_FORMAT=json) with a request id and a document id.

The ids live in context variables: the request-id middleware sets one per
request, ingestion (the Celery task and the pipeline) sets the document's, and
the JSON formatter writes whichever is set on every line. Plain text stays the
default; its lines do not change.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    task_postrun,
    task_prerun,
)
from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

request_id: ContextVar[str | None] = ContextVar("cairn_request_id", default=None)
document_id: ContextVar[str | None] = ContextVar("cairn_document_id", default=None)

HEADER = "X-Request-ID"
# An incoming id is kept only if it is short and plain: it goes into every log
# line of the request and back into a response header.
_GOOD_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Celery tasks whose first argument is a document id.
DOCUMENT_TASKS = frozenset(
    {
        "documents.tasks.ingest_task",
        "documents.tasks.ingest_index_task",
        "documents.tasks.refresh_task",
    }
)

access_log = logging.getLogger("cairn.request")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, and the ids set."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, var in (("request_id", request_id), ("document_id", document_id)):
            value = getattr(record, name, None) or var.get()
            if value:
                line[name] = str(value)
        for name in ("method", "path", "status", "duration_ms"):
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def json_enabled() -> bool:
    """Tell whether LOG_FORMAT asks for JSON lines."""
    return str(settings.LOG_FORMAT) == "json"


@contextmanager
def document_context(value: Any) -> Iterator[None]:
    """Every log line inside the block carries this document id."""
    token = document_id.set(str(value))
    try:
        yield
    finally:
        document_id.reset(token)


def incoming_id(value: str | None) -> str:
    """The request's id: the caller's X-Request-ID when plain, else a new one."""
    if value and _GOOD_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Gives every request an id, in its log lines and the X-Request-ID header.

    With JSON logs it also writes one `cairn.request` line per request, in place
    of gunicorn's access log (which cannot carry the id as JSON).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rid = incoming_id(request.headers.get(HEADER))
        request.request_id = rid  # type: ignore[attr-defined]
        token = request_id.set(rid)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response[HEADER] = rid
            if isinstance(response, StreamingHttpResponse):
                # A streamed answer runs after this returns: its lines too.
                response.streaming_content = _with_request_id(
                    response.streaming_content, rid
                )
            if json_enabled():
                access_log.info(
                    "%s %s %s",
                    request.method,
                    request.path,
                    response.status_code,
                    extra={
                        "method": request.method,
                        "path": request.path,
                        "status": response.status_code,
                        "duration_ms": int((time.monotonic() - started) * 1000),
                    },
                )
            return response
        finally:
            request_id.reset(token)


def _with_request_id(chunks: Iterable[Any], rid: str) -> Iterator[Any]:
    token = request_id.set(rid)
    try:
        yield from chunks
    finally:
        # A stream dropped unread may be closed from another context.
        with suppress(ValueError):
            request_id.reset(token)


@task_prerun.connect
def _task_started(sender: Any = None, args: Any = None, **kwargs: Any) -> None:
    """An ingestion task's lines carry its document id (Celery's own lines too)."""
    name = str(getattr(sender, "name", ""))
    task_kwargs = kwargs.get("kwargs") or {}
    if name in DOCUMENT_TASKS:
        value = args[0] if args else task_kwargs.get("document_id")
        document_id.set(str(value) if value is not None else None)


@task_postrun.connect
def _task_ended(sender: Any = None, **kwargs: Any) -> None:
    # A worker runs the next task in the same context: forget this one's id.
    document_id.set(None)


@after_setup_logger.connect
@after_setup_task_logger.connect
def _celery_json(logger: logging.Logger | None = None, **kwargs: Any) -> None:
    """Celery configures its own handlers; with JSON logs they write JSON too."""
    if logger is None or not json_enabled():
        return
    for handler in logger.handlers:
        handler.setFormatter(JsonFormatter())
