"""The advisory locks: exclusive across connections, re-entrant in a thread."""

from __future__ import annotations

import threading
import time
from typing import Any

from django.db import connection

from documents import sweeper
from documents.ingestion.locks import advisory_lock, document_lock, lock_key


def _taken_elsewhere(name: str) -> bool:
    """Whether another thread (its own connections) can take the lock now."""
    result: list[bool] = []

    def attempt() -> None:
        try:
            with advisory_lock(name) as locked:
                result.append(locked)
        finally:
            connection.close()

    thread = threading.Thread(target=attempt)
    thread.start()
    thread.join(timeout=30)
    return result == [True]


def test_a_held_lock_is_refused_to_others_until_the_block_ends(db: None) -> None:
    with advisory_lock("job:1") as locked:
        assert locked
        assert not _taken_elsewhere("job:1")
        assert _taken_elsewhere("job:2"), "another name is free"
    assert _taken_elsewhere("job:1")


def test_the_same_lock_nests_in_one_thread(db: None) -> None:
    key = lock_key("job:nested")
    with document_lock("job:nested") as outer:
        with document_lock("job:nested") as inner:
            assert outer and inner
        assert key in sweeper.held_advisory_locks(), "the outer block still holds"
        assert not _taken_elsewhere("job:nested")
    assert key not in sweeper.held_advisory_locks()


def test_the_lock_survives_the_threads_own_transactions(db: None, user: Any) -> None:
    """Work inside the block commits and rolls back without touching the lock,
    as it does behind a pooler that hands each transaction another connection."""
    key = lock_key("job:work")
    with advisory_lock("job:work") as locked:
        assert locked
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock_all()")
        assert key in sweeper.held_advisory_locks()
    assert key not in sweeper.held_advisory_locks()


def test_a_lost_holder_connection_frees_the_lock(db: None) -> None:
    key = lock_key("job:lost")
    with advisory_lock("job:lost") as locked:
        assert locked
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE "
                "locktype = 'advisory' AND objsubid = 1 AND granted AND "
                "((classid::bigint << 32) | objid::bigint) = %s",
                [key],
            )
        # The backend ends a moment after it is told to.
        deadline = time.monotonic() + 10
        while key in sweeper.held_advisory_locks() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert key not in sweeper.held_advisory_locks()
        assert _taken_elsewhere("job:lost")
    assert _taken_elsewhere("job:lost")
