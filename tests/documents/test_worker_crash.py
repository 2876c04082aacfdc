"""A worker process killed mid-document loses nothing and duplicates nothing."""

from __future__ import annotations

import io
import os
import signal
import time
from typing import Any

import pytest
from django.test import Client

from documents.models import Document
from tests.conftest import start_worker, stop_worker
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.voyage import FakeVoyage

BODY = "\n\n".join(
    f"## Section {n}\n\nPolicy clause {n} says that reports are due on day {n}."
    for n in range(60)
)


def _children(pid: int) -> list[int]:
    """The pool processes of a prefork worker (Linux /proc)."""
    path = f"/proc/{pid}/task/{pid}/children"
    with open(path, encoding="ascii") as handle:
        return [int(part) for part in handle.read().split()]


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    states = list(Document.objects.values_list("status", "stage"))
    raise AssertionError(f"timed out waiting for {what}: {states}")


@pytest.mark.worker
def test_a_worker_killed_mid_ingest_redelivers_without_duplicates(
    transactional_db: None,
    broker: str,
    settings: Any,
    api: Client,
    fake_anthropic: FakeAnthropic,
    fake_voyage: FakeVoyage,
) -> None:
    fake_voyage.latency_s = 2.0
    process = start_worker(
        settings,
        broker,
        prefork=True,
        env={
            "ANTHROPIC_API_KEY": "test-key",
            "ANTHROPIC_BASE_URL": fake_anthropic.base_url,
            "VOYAGE_API_KEY": "test-key",
            "VOYAGE_BASE_URL": fake_voyage.base_url,
            "API_MAX_RETRIES": "0",
        },
    )
    try:
        handle = io.BytesIO(BODY.encode())
        handle.name = "policy.md"
        response = api.post("/api/v1/documents", {"file": handle})
        assert response.status_code == 201
        document_id = response.json()["id"]

        def embedding() -> bool:
            stage = Document.objects.get(id=document_id).stage
            return stage.startswith("embedding") and bool(fake_voyage.requests)

        _wait(embedding, 60, "the embedding stage")
        children = _children(process.pid)
        assert len(children) == 1
        os.kill(children[0], signal.SIGKILL)

        def done() -> bool:
            status = Document.objects.get(id=document_id).status
            return status in (Document.Status.READY, Document.Status.FAILED)

        _wait(done, 90, "the redelivered document")
        assert process.poll() is None, "the worker's main process lives on"
    finally:
        stop_worker(process)
    document = Document.objects.get(id=document_id)
    assert document.status == Document.Status.READY, document.error
    assert document.attempts == 1, "redelivered stage 2, extraction not repeated"
    assert len(fake_voyage.requests) >= 2, "the killed embedding was redone"
    uploads = [r for r in fake_anthropic.requests if r.method == "POST"]
    assert len(uploads) == 1 and list(fake_anthropic.files) == [document.file_id]
    chunks = list(document.chunks.values_list("ordinal", "start_char", "end_char"))
    assert len(chunks) == len({(s, e) for _, s, e in chunks}) > 10
    assert [o for o, _, _ in chunks] == list(range(len(chunks)))
