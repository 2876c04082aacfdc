"""Health: /healthz for probes, and the reads behind the ingestion health page."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from celery import current_app as app
from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from documents import workers
from documents.models import Document, EmbeddingSpace
from documents.remote.embeddings import is_contextual_model, is_offline_model
from documents.remote.files import files_api_pause

log = logging.getLogger(__name__)

RECENT_FAILURES = 20
UNAVAILABLE = "unavailable"


def status_counts() -> dict[str, int]:
    """How many documents are in each status (every status listed)."""
    counts = dict.fromkeys(Document.Status.values, 0)
    for row in Document.objects.values("status").annotate(n=Count("id")).order_by():
        counts[row["status"]] = row["n"]
    return counts


def status_counts_by_workspace() -> list[tuple[tuple[str, str], int]]:
    """How many documents each workspace (by code) has in each status it uses."""
    rows = (
        Document.objects.values("workspace__code", "status")
        .annotate(n=Count("id"))
        .order_by("workspace__code", "status")
    )
    return [((row["status"], str(row["workspace__code"])), row["n"]) for row in rows]


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


QUEUE_ROLES = {
    settings.CPU_QUEUE: "extraction (the first stage of ingestion)",
    settings.IO_QUEUE: "indexing: chunks, Files API uploads, embeddings",
}


def queue_names() -> list[str]:
    """Every Celery queue Cairn sends to: the default and each routed one."""
    names = {app.conf.task_default_queue or "celery"}
    for queue in app.conf.task_queues or []:
        names.add(queue.name)
    for route in (app.conf.task_routes or {}).values():
        if isinstance(route, dict) and route.get("queue"):
            names.add(str(route["queue"]))
    return sorted(names)


@dataclass
class QueueState:
    """One queue: messages waiting, and messages a worker has taken but not done."""

    name: str
    role: str
    waiting: int = 0
    taken: int = 0


@dataclass
class BrokerState:
    """What the broker holds: the queues and the workers' heartbeats, or an error."""

    queues: list[QueueState] = field(default_factory=list)
    workers: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""


def broker_state() -> BrokerState:
    """Queue lengths, taken messages and heartbeats, in one round trip to Redis.

    No control ping: it waits out its whole timeout on every page view.
    """
    names = queue_names()
    state = BrokerState(
        queues=[
            QueueState(name=n, role=QUEUE_ROLES.get(n, "periodic jobs")) for n in names
        ]
    )
    try:
        # Kombu's own connection, so every broker URL form it accepts
        # (redis://, redis+socket://) works; its channel holds a redis client.
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            client = conn.default_channel.client  # type: ignore[attr-defined]
            keys = list(client.scan_iter(match=workers.PREFIX + "*", count=500))
            pipe = client.pipeline(transaction=False)
            for name in names:
                pipe.llen(name)
            pipe.hvals(UNACKED)
            if keys:
                pipe.mget(keys)
            replies = pipe.execute()
    except Exception as exc:
        state.error = f"error: {exc}"
        return state
    for queue, length in zip(state.queues, replies, strict=False):
        queue.waiting = int(length)
    taken = _taken_by_queue(replies[len(names)])
    for queue in state.queues:
        queue.taken = taken.get(queue.name, 0)
    beats = replies[len(names) + 1] if keys else []
    state.workers = sorted(
        (json.loads(b) for b in beats if b), key=lambda w: str(w.get("hostname"))
    )
    return state


# Kombu's Redis transport keeps each delivered, unacknowledged message here.
UNACKED = "unacked"


def _taken_by_queue(values: list[bytes]) -> dict[str, int]:
    """Count unacknowledged messages by the queue they came from."""
    counts: dict[str, int] = {}
    for value in values:
        try:
            _message, _exchange, routing_key = json.loads(value)
        except (TypeError, ValueError):
            continue
        counts[str(routing_key)] = counts.get(str(routing_key), 0) + 1
    return counts


def modes() -> dict[str, str]:
    """How Cairn answers, embeds and stores files right now, in words."""
    active = (
        EmbeddingSpace.objects.filter(status=EmbeddingSpace.Status.ACTIVE)
        .values_list("name", "model")
        .first()
    )
    building = (
        EmbeddingSpace.objects.filter(status=EmbeddingSpace.Status.BUILDING)
        .values_list("name", flat=True)
        .first()
    )
    if active is None:
        embeddings = "no embedding space yet (created with the first document)"
    elif is_offline_model(active[1]):
        embeddings = f"offline lexical embedder ({active[0]})"
    elif is_contextual_model(active[1]):
        embeddings = f"Voyage contextualized chunk embeddings ({active[0]})"
    else:
        embeddings = f"Voyage ({active[0]})"
    if building:
        embeddings += f"; re-embedding into {building}"
    online = bool(settings.ANTHROPIC_API_KEY)
    pause = files_api_pause() if online else None
    return {
        "answers": f"Claude ({settings.CLAUDE_MODEL})"
        if online
        else "offline extractive answerer (no ANTHROPIC_API_KEY)",
        "embeddings": embeddings,
        "files_api": "off: offline mode"
        if not online
        else (f"paused until {pause.until:%Y-%m-%d %H:%M}" if pause else "uploading"),
    }


def agreement_notes(counts: dict[str, int], broker: BrokerState) -> list[str]:
    """Sentences that reconcile the document counts with the queues."""
    if broker.error:
        return []
    by_name = {q.name: q for q in broker.queues}
    cpu = by_name.get(settings.CPU_QUEUE)
    io = by_name.get(settings.IO_QUEUE)
    if cpu is None or io is None:
        return []
    notes = []
    queued, processing = counts.get("queued", 0), counts.get("processing", 0)
    messages = cpu.waiting + cpu.taken
    if queued > messages:
        notes.append(
            f"{queued - messages} queued document(s) have no message in "
            f"{cpu.name}: the periodic sweep sends them again within "
            f"{settings.STALE_DOCUMENT_S} seconds of their last move."
        )
    if processing and not broker.workers:
        notes.append(
            f"{processing} document(s) are processing but no worker is alive: "
            "the periodic sweep queues them again once they have not moved for "
            f"{settings.STALE_DOCUMENT_S} seconds."
        )
    return notes


def ingestion_health() -> dict[str, Any]:
    """Everything the health page shows."""
    counts = status_counts()
    broker = broker_state()
    return {
        "counts": counts,
        "total": sum(counts.values()),
        "oldest": oldest_unfinished(),
        "failures": recent_failures(),
        "broker": broker,
        "notes": agreement_notes(counts, broker),
        "modes": modes(),
        "heartbeat_interval": workers.INTERVAL_S,
        "heartbeat_ttl": workers.TTL_S,
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
    # The workers' heartbeats, read in the same round trip as the queues: a
    # control ping waited out its whole timeout on every probe.
    broker = broker_state()
    if broker.error:
        log.warning("healthz: broker unavailable: %s", broker.error)
        body["broker"] = UNAVAILABLE
    else:
        body["workers"] = len(broker.workers)
    healthy = body["database"] == "ok" and body["broker"] == "ok"
    body["mode"] = {
        "answers": "claude" if settings.ANTHROPIC_API_KEY else "offline",
        "embeddings": "voyage" if settings.VOYAGE_API_KEY else "offline",
    }
    return JsonResponse(body, status=200 if healthy else 503)
