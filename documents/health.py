"""Health: /healthz for probes, and the reads behind the ingestion health page."""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app as app
from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from documents.models import Document

log = logging.getLogger(__name__)

RECENT_FAILURES = 20
UNAVAILABLE = "unavailable"


def status_counts() -> dict[str, int]:
    """How many documents are in each status (every status listed)."""
    counts = dict.fromkeys(Document.Status.values, 0)
    for row in Document.objects.values("status").annotate(n=Count("id")).order_by():
        counts[row["status"]] = row["n"]
    return counts


def oldest_unfinished() -> Document | None:
    """The document waiting longest in queued or processing, if any."""
    return (
        Document.objects.filter(
            status__in=[Document.Status.QUEUED, Document.Status.PROCESSING]
        )
        .select_related("workspace")
        .defer("text")
        .order_by("created")
        .first()
    )


def recent_failures(limit: int = RECENT_FAILURES) -> list[Document]:
    """The latest failed documents with their reasons."""
    return list(
        Document.objects.filter(status=Document.Status.FAILED)
        .select_related("workspace")
        .defer("text")
        .order_by("-updated")[:limit]
    )


def queue_names() -> list[str]:
    """The Celery queues Cairn sends to."""
    names = {app.conf.task_default_queue or "celery"}
    for queue in app.conf.task_queues or []:
        names.add(queue.name)
    return sorted(names)


def queue_lengths() -> dict[str, int | str]:
    """Messages waiting in each queue: LLEN of its Redis list (or the error)."""
    lengths: dict[str, int | str] = {}
    try:
        # Kombu's own connection, so every broker URL form it accepts
        # (redis://, redis+socket://) works; its channel holds a redis client.
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            client = conn.default_channel.client  # type: ignore[attr-defined]
            for name in queue_names():
                lengths[name] = int(client.llen(name))
    except Exception as exc:
        return dict.fromkeys(queue_names(), f"error: {exc}")
    return lengths


def live_workers(timeout: float = 1.0) -> list[str] | str:
    """The names of workers answering a control ping (or the error)."""
    try:
        # A ping through a dead broker can come back empty instead of failing,
        # which would read as "no workers" rather than "no broker".
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        replies = app.control.ping(timeout=timeout) or []
    except Exception as exc:
        return f"error: {exc}"
    return sorted(name for reply in replies for name in reply)


def ingestion_health() -> dict[str, Any]:
    """Everything the health page shows."""
    workers = live_workers()
    return {
        "counts": status_counts(),
        "oldest": oldest_unfinished(),
        "failures": recent_failures(),
        "queues": queue_lengths(),
        "workers": workers if isinstance(workers, list) else [],
        "workers_error": workers if isinstance(workers, str) else "",
    }


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Database, broker and worker health; 503 when a part is down.

    Anyone may ask, so the body names states only; the error behind a state
    (socket paths, server messages) goes to the log.
    """
    body: dict[str, Any] = {"database": "ok", "broker": "ok", "workers": 0}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        log.warning("healthz: database unavailable: %s", exc)
        body["database"] = UNAVAILABLE
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        replies = app.control.ping(timeout=1.0) or []
        body["workers"] = len(replies)
    except Exception as exc:
        log.warning("healthz: broker unavailable: %s", exc)
        body["broker"] = UNAVAILABLE
    healthy = body["database"] == "ok" and body["broker"] == "ok"
    body["mode"] = {
        "answers": "claude" if settings.ANTHROPIC_API_KEY else "offline",
        "embeddings": "voyage" if settings.VOYAGE_API_KEY else "offline",
    }
    return JsonResponse(body, status=200 if healthy else 503)
