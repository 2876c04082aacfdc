"""Structured logs: JSON lines with a request id (web) and a document id (ingestion)."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from celery.signals import after_setup_logger, task_postrun, task_prerun
from django.test import Client

from documents import tasks
from project import logs, metrics
from project.run import GUNICORN_JSON_LOGGING, role_command
from tests.conftest import HANDBOOK, ingested
from tests.pdfs import make_pdf


class Captured:
    """JSON lines written by a real handler with Cairn's formatter."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]


@pytest.fixture
def captured() -> Iterator[Captured]:
    """Every INFO line of the process, formatted as it is written."""
    capture = Captured()
    handler = logging.StreamHandler(capture.stream)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield capture
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_every_response_carries_a_request_id(db: None) -> None:
    response = Client().get("/login/")
    assert response.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])
    assert Client().get("/login/")["X-Request-ID"] != response["X-Request-ID"]


def test_it_keeps_a_plain_incoming_id_and_replaces_another(db: None) -> None:
    kept = Client().get("/login/", headers={"X-Request-ID": "lb-7f3a.42:1"})
    assert kept["X-Request-ID"] == "lb-7f3a.42:1"
    hostile = Client().get("/login/", headers={"X-Request-ID": 'x" \n{"level":"x'})
    assert re.fullmatch(r"[0-9a-f]{32}", hostile["X-Request-ID"])
    # An API error leaves through the middleware too.
    missing = Client().get("/api/v1/documents", headers={"X-Request-ID": "req-1"})
    assert missing.status_code == 401
    assert missing["X-Request-ID"] == "req-1"


def test_json_lines_carry_the_request_id(
    db: None, settings: Any, captured: Captured
) -> None:
    settings.LOG_FORMAT = "json"
    response = Client().get("/login/", headers={"X-Request-ID": "req-abc"})
    assert response.status_code == 200
    (line,) = [row for row in captured.lines() if row["logger"] == "cairn.request"]
    assert line["request_id"] == "req-abc"
    assert line["level"] == "INFO"
    assert line["message"] == "GET /login/ 200"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/login/", 200)
    assert line["duration_ms"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])
    # Outside a request no id is left behind.
    logging.getLogger("cairn.test").info("after")
    assert "request_id" not in captured.lines()[-1]


def test_a_streamed_answer_logs_with_its_request_id(
    api: Client, captured: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stream runs after the middleware returned; its lines keep the id."""
    answered = metrics.answered

    def logging_answered(**kwargs: Any) -> None:
        logging.getLogger("search.answering").info("answered")
        answered(**kwargs)

    monkeypatch.setattr(metrics, "answered", logging_answered)
    response: Any = api.post(
        "/api/v1/ask",
        json.dumps({"question": "How many vacation days?"}),
        content_type="application/json",
        headers={"Accept": "text/event-stream", "X-Request-ID": "sse-1"},
    )
    assert response.streaming
    assert response["X-Request-ID"] == "sse-1"
    body = b"".join(response.streaming_content).decode()
    assert "event: done" in body
    (line,) = [row for row in captured.lines() if row["message"] == "answered"]
    assert line["request_id"] == "sse-1"


def test_plain_logs_write_no_access_line(
    db: None, settings: Any, captured: Captured
) -> None:
    settings.LOG_FORMAT = "plain"
    Client().get("/login/")
    assert not [row for row in captured.lines() if row["logger"] == "cairn.request"]


def test_ingestion_lines_carry_the_document_id(user: Any, captured: Captured) -> None:
    handbook = ingested(user, "handbook.md", HANDBOOK.encode())
    broken = ingested(user, "broken.pdf", make_pdf([["x"]])[:150])
    ingestion = [
        row for row in captured.lines() if row["logger"].startswith("documents.")
    ]
    assert ingestion, "ingestion wrote no line"
    assert {row["document_id"] for row in ingestion} <= {
        str(handbook.id),
        str(broken.id),
    }
    assert any(row["document_id"] == str(handbook.id) for row in ingestion)
    # Once ingestion returns, the id is gone.
    logging.getLogger("cairn.test").info("after")
    assert "document_id" not in captured.lines()[-1]


def test_a_celery_ingestion_task_sets_and_clears_the_document_id(
    captured: Captured,
) -> None:
    task = tasks.ingest_index_task
    task_prerun.send(sender=task, task_id="t1", task=task, args=("doc-9",), kwargs={})
    logging.getLogger("celery.app.trace").info("Task succeeded")
    task_postrun.send(sender=task, task_id="t1", task=task, args=("doc-9",), kwargs={})
    logging.getLogger("celery.worker").info("idle")
    inside, outside = captured.lines()
    assert inside["document_id"] == "doc-9"
    assert "document_id" not in outside
    # A periodic task names no document.
    sweep = tasks.requeue_stale_task
    task_prerun.send(sender=sweep, task_id="t2", task=sweep, args=(), kwargs={})
    logging.getLogger("documents.sweeper").info("sweep")
    assert "document_id" not in captured.lines()[-1]


def test_celery_handlers_write_json_when_asked(settings: Any) -> None:
    logger = logging.getLogger("cairn.test.celery")
    handler = logging.StreamHandler(io.StringIO())
    logger.addHandler(handler)
    try:
        settings.LOG_FORMAT = "plain"
        after_setup_logger.send(sender=None, logger=logger, loglevel=20)
        assert not isinstance(handler.formatter, logs.JsonFormatter)
        settings.LOG_FORMAT = "json"
        after_setup_logger.send(sender=None, logger=logger, loglevel=20)
        assert isinstance(handler.formatter, logs.JsonFormatter)
    finally:
        logger.removeHandler(handler)


def test_gunicorn_logs_json_in_json_mode() -> None:
    plain = role_command("web", {})
    assert "--access-logfile" in plain and "--log-config-json" not in plain
    command = role_command("web", {"LOG_FORMAT": "json"})
    assert command[command.index("--log-config-json") + 1] == str(GUNICORN_JSON_LOGGING)
    assert "--access-logfile" not in command
    config = json.loads(GUNICORN_JSON_LOGGING.read_text())
    assert config["formatters"]["json"]["()"] == "project.logs.JsonFormatter"


def test_exceptions_are_one_json_line() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom %s", ("!",), None)
    try:
        raise ValueError("bad")
    except ValueError:
        record.exc_info = sys.exc_info()
    line = logs.JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "boom !"
    assert "ValueError: bad" in parsed["exception"]
