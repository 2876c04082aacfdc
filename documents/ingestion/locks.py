"""Advisory locks: one per document, one per space build.

Each lock is a transaction-scoped advisory lock (pg_try_advisory_xact_lock)
held by a connection of its own, whose transaction stays open for the block
and is rolled back at its end. That works the same straight to PostgreSQL and
behind a pooler in transaction mode (PgBouncer): a pooler hands the server
connection to this client for exactly as long as the transaction lasts, so the
lock can neither outlive the block on a pooled connection nor be released on
a different one, as a session lock (pg_try_advisory_lock) would be.

A worker killed in the middle of a job takes its connection and with it the
transaction and the lock; two live workers never run the same job at once.
The sweeper reads the held keys from pg_locks (documents/sweeper.py). Nested
use of the same lock within one thread is re-entrant, which lets a refresh
hold a document's lock around the ingestion it starts.

The holding connection is idle in its transaction while the job runs, so the
transaction turns off idle_in_transaction_session_timeout for itself (SET
LOCAL); a pooler's own idle-transaction timeout (PgBouncer's
idle_transaction_timeout) must be off or longer than INGEST_TIME_LIMIT_S. In
READ COMMITTED the idle transaction holds no snapshot, so it keeps no row
versions from vacuum.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

log = logging.getLogger(__name__)

# The keys this thread holds, with how many nested blocks hold each.
_local = threading.local()


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a name."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _held_here() -> dict[int, int]:
    held: dict[int, int] | None = getattr(_local, "held", None)
    if held is None:
        held = _local.held = {}
    return held


@contextmanager
def advisory_lock(name: str) -> Iterator[bool]:
    """Try to hold the named lock for the block; yields whether it was taken."""
    key = lock_key(name)
    held = _held_here()
    if key in held:
        held[key] += 1
        try:
            yield True
        finally:
            held[key] -= 1
        return
    holder = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        holder.set_autocommit(False)
        with holder.cursor() as cursor:
            cursor.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [key])
            row = cursor.fetchone()
        locked = bool(row and row[0])
        if not locked:
            yield False
            return
        held[key] = 1
        try:
            yield True
        finally:
            del held[key]
    finally:
        _release(holder)


def _release(holder: Any) -> None:
    """End the holding transaction (which frees the lock) and its connection."""
    try:
        if holder.connection is not None:
            holder.rollback()
    except DatabaseError:
        # The connection is gone already, and the lock with it.
        log.info("advisory lock connection was lost before release", exc_info=True)
    finally:
        holder.close()


def document_lock(document_id: Any) -> Any:
    """The lock held while a document is ingested or refreshed."""
    return advisory_lock(str(document_id))


def space_lock(space_id: int) -> Any:
    """The lock held while an embedding space is built."""
    return advisory_lock(f"space:{space_id}")
