"""Ingestion through a real Celery worker process on the real Redis broker."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client

from documents.models import Document
from tests.conftest import HANDBOOK
from tests.pdfs import make_pdf

BASE_DIR = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    """The URL of the test database this session created."""
    db = connection.settings_dict
    options = db.get("OPTIONS") or {}
    host = db.get("HOST") or options.get("host") or "localhost"
    port = db.get("PORT") or options.get("port") or 5432
    auth = f"{db['USER']}:{db.get('PASSWORD') or ''}"
    if host.startswith("/"):
        return f"postgresql://{auth}@/{db['NAME']}?host={host}&port={port}"
    return f"postgresql://{auth}@{host}:{port}/{db['NAME']}"


@pytest.fixture
def worker(transactional_db: None, broker: str, settings: Any) -> Iterator[Any]:
    """A `celery worker` subprocess on the test database and broker."""
    env = os.environ | {
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": broker,
        "CAIRN_VAR_DIR": str(django_settings.VAR_DIR),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "CAIRN_SKIP_DOTENV": "1",
        "ANTHROPIC_API_KEY": "",
        "VOYAGE_API_KEY": "",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "project", "worker", "--pool", "solo",
         "--loglevel", "WARNING", "--without-mingle", "--without-gossip"],
        cwd=BASE_DIR,
        env=env,
    )  # fmt: skip
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
