"""Ingestion through a real Celery worker process on the real Redis broker."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest
from django.test import Client

from documents.models import Document
from tests.conftest import HANDBOOK
from tests.pdfs import make_pdf


def _wait_for(ids: list[str], timeout: float = 90.0) -> list[Document]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        documents = list(Document.objects.filter(id__in=ids))
        if all(d.status in ("ready", "failed") for d in documents):
            return documents
        time.sleep(0.2)
    raise AssertionError(
        f"not done in time: {[(d.status, d.stage) for d in Document.objects.all()]}"
    )


@pytest.mark.worker
def test_a_real_worker_ingests_uploads(worker: Any, api: Client) -> None:
    ids = []
    for name, data in (
        ("handbook.md", HANDBOOK.encode()),
        ("report.pdf", make_pdf([["Page one."], ["Revenue grew 10 percent."]])),
        ("broken.pdf", make_pdf([["x"]])[:150]),
    ):
        handle = io.BytesIO(data)
        handle.name = name
        response = api.post("/api/v1/documents", {"file": handle})
        assert response.status_code == 201
        ids.append(response.json()["id"])
    documents = {d.original_name: d for d in _wait_for(ids)}
    assert documents["handbook.md"].status == "ready"
    assert documents["handbook.md"].chunks.count() > 0
    assert documents["report.pdf"].status == "ready"
    assert documents["report.pdf"].pages == 2
    assert documents["broken.pdf"].status == "failed"
    assert "damaged" in documents["broken.pdf"].error
    assert worker.poll() is None, "the worker survived the bad file"
