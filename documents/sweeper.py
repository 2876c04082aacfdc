"""The periodic sweep that re-sends documents whose worker or message was lost.

Tasks are acknowledged only when they end, so the broker hands a dead worker's
message to another worker, but only after its visibility timeout, which must
outlast the longest task (settings.REDELIVERY_AFTER_S, over half an hour). This
sweep is the fast path: a document is re-sent when nothing is working on it.

- queued, untouched for STALE_DOCUMENT_S: its message was never sent (broker
  down) or went down with the broker;
- processing, with its advisory lock free (no live transaction of any
  worker holds it: documents/ingestion/locks.py), and no progress for
  STALE_DOCUMENT_S: its worker died, or the message between the two stages
  was lost. A document waiting for a retry countdown gets
  TASK_RETRY_BACKOFF_MAX_S more, so the sweep never doubles the calls to an
  outside service that is already failing.

Sending twice is safe: ingestion takes the document's lock and claims it with
a conditional update, and replaces chunks instead of adding them.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from documents import queue
from documents.ingestion.locks import lock_key
from documents.models import Document

log = logging.getLogger(__name__)

# The stage a document shows while its task waits for a retry countdown.
RETRYING = "retrying"


def held_advisory_locks() -> set[int]:
    """The keys of the advisory locks held now in this database, by any session.

    pg_try_advisory_xact_lock(bigint) is recorded in pg_locks as classid (high
    32 bits) and objid (low 32 bits) with objsubid 1. pg_locks covers the whole
    server, whichever pooled connection reads it, so the read is the same
    behind a pooler; locks of other databases on the server (another install,
    the test database) are left out. Reading pg_locks takes no lock, so the
    sweep never makes a worker think a document is busy.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT classid::bigint, objid::bigint FROM pg_locks "
            "WHERE locktype = 'advisory' AND objsubid = 1 AND granted "
            "AND database = (SELECT oid FROM pg_database "
            "WHERE datname = current_database())"
        )
        keys = set()
        for high, low in cursor.fetchall():
            unsigned = (high << 32) | low
            keys.add(unsigned - (1 << 64) if unsigned >= 1 << 63 else unsigned)
    return keys


def stale_documents() -> list[Any]:
    """The ids of the documents the sweep should send again."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.STALE_DOCUMENT_S)
    retry_stale = stale - timedelta(seconds=settings.TASK_RETRY_BACKOFF_MAX_S)
    queued = Document.objects.filter(status=Document.Status.QUEUED, updated__lt=stale)
    processing = Document.objects.filter(status=Document.Status.PROCESSING).filter(
        Q(updated__lt=retry_stale)
        | (Q(updated__lt=stale) & ~Q(stage__startswith=RETRYING))
    )
    ids = list(queued.values_list("id", flat=True))
    candidates = list(processing.values_list("id", flat=True))
    if candidates:
        held = held_advisory_locks()
        ids += [id_ for id_ in candidates if lock_key(str(id_)) not in held]
    return ids


def requeue_stale() -> int:
    """Send stale documents to ingestion again; return how many."""
    stale = stale_documents()
    for document_id in stale:
        # Touched first, so the next sweep leaves it alone for a while.
        Document.objects.filter(id=document_id).update(updated=timezone.now())
        queue.send(queue.INGEST, str(document_id))
    if stale:
        log.warning("re-queued %d stale documents", len(stale))
    return len(stale)


def document_retrying(*, document_id: Any) -> None:
    """Show that a document's task waits for a retry (the sweep gives it time)."""
    try:
        Document.objects.filter(
            id=document_id, status=Document.Status.PROCESSING
        ).update(stage=RETRYING, updated=timezone.now())
    except Exception:
        # Only a hint for the sweep; the retry itself is already scheduled.
        log.warning("could not mark %s as retrying", document_id, exc_info=True)
