"""Uploads while the broker is down: kept, visibly waiting, sent when it is back."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from celery import Celery
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from documents import queue, sweeper
from documents.models import Document
from project.celery import app as cairn_app
from tests.conftest import HANDBOOK

DEAD_BROKER = "redis://127.0.0.1:1/0"

# Tasks are sent when the transaction commits: these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)


@contextlib.contextmanager
def _broker_down() -> Iterator[Celery]:
    """Cairn's Celery pointed at a port nothing listens on, as when Redis is down."""
    dead = Celery("cairn-dead-broker", set_as_current=False)
    dead.config_from_object("django.conf:settings", namespace="CELERY")
    dead.conf["broker_url"] = DEAD_BROKER
    dead.set_current()
    try:
        yield dead
    finally:
        cairn_app.set_current()
        dead.close()


@pytest.fixture
def dead_broker() -> Iterator[Celery]:
    with _broker_down() as dead:
        yield dead


def _file(name: str, data: bytes) -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def test_an_api_upload_is_kept_and_says_it_waits_for_the_queue(
    api: Client, dead_broker: Celery
) -> None:
    response = api.post(
        "/api/v1/documents", {"file": _file("handbook.md", HANDBOOK.encode())}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "queued"
    assert body["stage"] == queue.WAITING_FOR_QUEUE
    document = Document.objects.get(id=body["id"])
    assert document.stage == queue.WAITING_FOR_QUEUE
    assert document.original  # the file is kept


def test_the_page_says_the_queue_is_down_and_the_row_shows_it(
    web: Client, dead_broker: Celery
) -> None:
    response = web.post(
        "/documents/upload",
        {"files": [_file("a.md", b"# A\n\nAlpha."), _file("b.md", b"# B\n\nBeta.")]},
        follow=True,
    )
    (banner,) = list(response.context["messages"])
    assert banner.level_tag == "warning"
    assert str(banner).startswith("2 files are queued: a.md, b.md.")
    assert "The task queue is not answering right now" in str(banner)
    page = response.content.decode()
    assert page.count('class="muted stage waiting"') == 2
    assert page.count(f">{queue.WAITING_FOR_QUEUE}</span>") == 2


def test_a_url_added_while_the_broker_is_down_waits_too(
    web: Client, dead_broker: Celery
) -> None:
    response = web.post(
        "/documents/add-urls", {"urls": "https://example.com/guide"}, follow=True
    )
    (banner,) = list(response.context["messages"])
    assert "The task queue is not answering right now" in str(banner)
    assert Document.objects.get().stage == queue.WAITING_FOR_QUEUE


def test_with_the_broker_up_nothing_waits(api: Client, broker: str) -> None:
    response = api.post(
        "/api/v1/documents", {"file": _file("handbook.md", HANDBOOK.encode())}
    )
    assert response.status_code == 201
    assert response.json()["stage"] != queue.WAITING_FOR_QUEUE


def test_the_sweep_sends_a_waiting_document_once_the_broker_is_back(
    api: Client, broker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _broker_down():
        body = api.post(
            "/api/v1/documents", {"file": _file("handbook.md", HANDBOOK.encode())}
        ).json()
    assert body["stage"] == queue.WAITING_FOR_QUEUE
    sent: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(queue, "send", lambda task, *args: sent.append((task, args)))
    Document.objects.filter(id=body["id"]).update(
        updated=timezone.now() - timedelta(seconds=django_settings.STALE_DOCUMENT_S + 1)
    )
    assert sweeper.requeue_stale() == 1
    assert sent == [(queue.INGEST, (body["id"],))]
