"""GET /healthz reports the database, the broker and live workers."""

from __future__ import annotations

from typing import Any

from django.test import Client


def test_healthz_reports_ok(db: None, broker: str) -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok"
    assert body["broker"] == "ok"
    assert isinstance(body["workers"], int)
    assert body["mode"] == {"answers": "offline", "embeddings": "offline"}


def test_healthz_counts_workers_by_their_heartbeats(db: None, broker: str) -> None:
    from documents import workers

    before = Client().get("/healthz").json()["workers"]
    workers.beat("healthz-test@host", ["celery"])
    try:
        assert Client().get("/healthz").json()["workers"] == before + 1
    finally:
        workers.forget("healthz-test@host")
    assert Client().get("/healthz").json()["workers"] == before


def test_healthz_is_503_when_the_broker_is_down(db: None, settings: Any) -> None:
    from project.celery import app

    original = app.conf.broker_url
    app.conf["broker_url"] = "redis://127.0.0.1:1/0"
    try:
        response = Client().get("/healthz")
    finally:
        app.conf["broker_url"] = original
    assert response.status_code == 503
    # Anyone may ask: a state, never the error text (broker URL, socket path).
    assert response.json()["broker"] == "unavailable"
    assert b"127.0.0.1" not in response.content
