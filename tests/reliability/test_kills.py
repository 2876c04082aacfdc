"""Kill the worker, Redis and PostgreSQL under `make run` mid-ingest: it heals.

Online against the fake APIs: 40 documents in three batches, one SIGKILL per
batch. Every document ends `ready` with one set of chunks and one remote file,
the web tier answers through the worker kill, the database outage is a 503
(never a 500), and after a SIGTERM nothing the run started is left.

Slow (two to three minutes): `make test-reliability`. The measured times are
printed (pytest -s), not asserted.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.voyage import FakeVoyage
from tests.reliability.stack import Stack, wait_until

pytestmark = pytest.mark.reliability

BATCHES = (14, 13, 13)


def _body(n: int) -> bytes:
    return "\n\n".join(
        f"## Section {s} of file {n}\n\nClause {s} of policy {n}: reports are due on "
        f"day {s}, and late reports need the approval of team {n}."
        for s in range(40)
    ).encode()


class Prober(threading.Thread):
    """GETs a page and an API list every 0.2 s; records statuses per phase."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(daemon=True)
        self.stack = stack
        self.phase = "start"
        self.seen: dict[str, list[str]] = {}
        self.done = threading.Event()

    def run(self) -> None:
        logging.getLogger("httpx").setLevel(logging.WARNING)
        headers = {"Authorization": f"Bearer {self.stack.token}"}
        with httpx.Client(base_url=self.stack.base_url, timeout=10) as client:
            while not self.done.is_set():
                for path, extra in (("/login/", {}), ("/api/v1/documents", headers)):
                    try:
                        response = client.get(path, headers=extra)
                        outcome = str(response.status_code)
                        if response.status_code == 503 and path.startswith("/api/"):
                            outcome += "-json" if "error" in response.json() else ""
                    except httpx.HTTPError as exc:
                        outcome = type(exc).__name__
                    self.seen.setdefault(self.phase, []).append(outcome)
                time.sleep(0.2)


# Quicker than the defaults (90 s, every 30 s) to keep the test short;
# RELIABILITY_DEFAULT_TIMINGS=1 measures the defaults instead.
QUICK_SWEEP = {"STALE_DOCUMENT_S": "10", "REQUEUE_STALE_EVERY_S": "5"}


@pytest.fixture
def stack(
    tmp_path: Path, fake_anthropic: FakeAnthropic, fake_voyage: FakeVoyage
) -> Iterator[Stack]:
    quick = os.environ.get("RELIABILITY_DEFAULT_TIMINGS") != "1"
    running = Stack(
        tmp_path / "var",
        {
            "ANTHROPIC_API_KEY": "test-key",
            "ANTHROPIC_BASE_URL": fake_anthropic.base_url,
            "VOYAGE_API_KEY": "test-key",
            "VOYAGE_BASE_URL": fake_voyage.base_url,
            "API_MAX_RETRIES": "0",
            "WORKER_CONCURRENCY": "2",
            **(QUICK_SWEEP if quick else {}),
        },
    )
    try:
        yield running
    finally:
        running.kill_leftovers()


def _other_child(stack: Stack, marker: str, old_pid: int) -> bool:
    """Whether a new process has replaced old_pid under the supervisor."""
    try:
        return bool(stack.child(marker).pid != old_pid)
    except AssertionError:
        return False


def _statuses(stack: Stack, ids: list[str]) -> dict[str, int] | None:
    listed = ",".join(f"'{i}'" for i in ids)
    rows = stack.query(
        f"SELECT status, count(*) FROM documents_document WHERE id IN ({listed}) "
        "GROUP BY status"
    )
    return None if rows is None else dict(rows)


def _batch(
    stack: Stack, prober: Prober, files: range, phase: str, kill: Callable[[], None]
) -> dict[str, Any]:
    """Upload n documents, kill something once they are mid-ingest, wait for all."""
    prober.phase = f"{phase}-before"
    n = len(files)
    ids = [stack.upload(f"policy-{i}.md", _body(i)) for i in files]
    wait_until(
        lambda: (_statuses(stack, ids) or {}).get("processing"),
        60,
        "a document in processing",
    )
    at_kill = _statuses(stack, ids)
    stack.note_processes()
    prober.phase = phase
    killed = time.monotonic()
    kill()
    back_s = time.monotonic() - killed

    def finished() -> bool:
        statuses = _statuses(stack, ids) or {}
        return statuses.get("ready", 0) + statuses.get("failed", 0) == n

    wait_until(finished, 180, f"every document of the {phase} batch")
    prober.phase = f"{phase}-after"
    return {
        "documents": n,
        "at_kill": at_kill,
        "service_back_s": round(back_s, 1),
        "all_done_s": round(time.monotonic() - killed, 1),
    }


def test_the_stack_heals_from_kills_without_losing_or_duplicating(
    stack: Stack, fake_anthropic: FakeAnthropic, fake_voyage: FakeVoyage
) -> None:
    fake_voyage.latency_s = 1.0
    stack.start()
    stack.create_token()
    prober = Prober(stack)
    prober.start()
    report: dict[str, Any] = {}

    def kill_worker() -> None:
        worker = stack.child("worker")
        pool = worker.children()
        assert pool, "a prefork worker has pool processes"
        os.kill(worker.pid, signal.SIGKILL)
        wait_until(lambda: not any(p.is_running() for p in pool), 15, "no orphans")
        wait_until(lambda: _other_child(stack, "worker", worker.pid), 30, "a worker")

    def kill_redis() -> None:
        redis = stack.child("redis-server")
        os.kill(redis.pid, signal.SIGKILL)
        wait_until(lambda: _other_child(stack, "redis-server", redis.pid), 30, "Redis")

    def kill_postgres() -> None:
        postmaster = stack.postmaster_pid()
        assert postmaster
        os.kill(postmaster, signal.SIGKILL)
        wait_until(lambda: stack.query("SELECT 1"), 60, "PostgreSQL")

    start = 0
    for (phase, kill), n in zip(
        (("worker", kill_worker), ("redis", kill_redis), ("postgres", kill_postgres)),
        BATCHES,
        strict=True,
    ):
        report[phase] = _batch(stack, prober, range(start, start + n), phase, kill)
        start += n
    prober.done.set()
    prober.join(timeout=15)

    documents = stack.query(
        "SELECT id::text, status, error, file_id FROM documents_document"
    )
    assert documents is not None and len(documents) == sum(BATCHES)
    assert {status for _, status, _, _ in documents} == {"ready"}, documents
    duplicates = stack.query(
        "SELECT document_id, ordinal FROM documents_chunk "
        "GROUP BY document_id, ordinal HAVING count(*) > 1 "
        "UNION ALL SELECT document_id, start_char FROM documents_chunk "
        "GROUP BY document_id, start_char, end_char HAVING count(*) > 1"
    )
    assert duplicates == []
    gaps = stack.query(
        "SELECT document_id FROM documents_chunk GROUP BY document_id "
        "HAVING count(*) <> max(ordinal) + 1 OR min(ordinal) <> 0"
    )
    assert gaps == []
    remote = {file_id for _, _, _, file_id in documents}
    assert set(fake_anthropic.files) == remote, "one remote file each, no orphans"

    # The web tier never stopped answering while the worker was down, and the
    # database outage was a 503 (JSON under the API), never a 500.
    assert set(prober.seen["worker"]) == {"200"}, prober.seen["worker"]
    assert set(prober.seen["postgres"]) <= {"200", "503", "503-json"}
    assert "500" not in {o for outcomes in prober.seen.values() for o in outcomes}

    stop_s = stack.stop()
    assert stack.leftovers() == []
    assert stack.postmaster_pid() is None or not psutil.pid_exists(
        stack.postmaster_pid() or 0
    )
    report["stop_s"] = round(stop_s, 1)
    report["probes"] = {
        phase: {o: outcomes.count(o) for o in set(outcomes)}
        for phase, outcomes in prober.seen.items()
    }
    print("\nreliability report:", report)
