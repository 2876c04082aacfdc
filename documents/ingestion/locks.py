"""Session advisory locks: one per document, one per space build.

A session lock dies with its database connection, so a worker killed in the
middle of a job never leaves it locked, while two live workers never run the
same job at once. Nested use within one session is re-entrant (PostgreSQL
counts the holds), which lets a refresh hold a document's lock around the
ingestion it starts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a name."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def advisory_lock(name: str) -> Iterator[bool]:
    """Try to hold the named lock for the block; yields whether it was taken."""
    key = lock_key(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        row = cursor.fetchone()
        locked = bool(row and row[0])
    try:
        yield locked
    finally:
        if locked:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def document_lock(document_id: Any) -> Any:
    """The lock held while a document is ingested or refreshed."""
    return advisory_lock(str(document_id))


def space_lock(space_id: int) -> Any:
    """The lock held while an embedding space is built."""
    return advisory_lock(f"space:{space_id}")
