"""The admin console: documents, ingestion health, usage, feedback."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from documents.models import Document
from search import answering, services
from tests.conftest import HANDBOOK, ingested
from tests.factories import make_user


@pytest.fixture
def staff(db: None) -> Client:
    client = Client()
    client.force_login(make_user(is_staff=True, is_superuser=True))
    return client


def test_console_pages_need_staff(user: Any, web: Client) -> None:
    for path in ("/admin/cairn/health/", "/admin/cairn/usage/"):
        response = web.get(path)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_health_shows_counts_failures_queue_and_workers(
    staff: Client, broker: str
) -> None:
    user = make_user()
    ready = ingested(user, "handbook.md", HANDBOOK.encode())
    Document.objects.filter(id=ready.id).update(
        status="failed", error="Bad PDF: xref", failure_kind="damaged"
    )
    page = staff.get("/admin/cairn/health/").content.decode()
    assert '<td data-status="failed">1</td>' in page
    assert '<td data-status="ready">0</td>' in page
    assert '<td data-status="all">1</td>' in page
    assert "Bad PDF: xref" in page and "damaged" in page
    assert "Nothing is queued or processing." in page
    # Every queue Cairn uses, each with what waits in it and what a worker
    # holds (other tests may have left messages); no worker is running here.
    for queue in ("celery", "ingest_cpu", "ingest_io"):
        assert re.search(rf'<td data-queue="{queue}">\d+</td>', page), queue
        assert re.search(rf'<td data-taken="{queue}">\d+</td>', page), queue
    assert '<p id="workers">0 live workers' in page


def test_health_tells_the_modes_as_they_are(staff: Client, broker: str) -> None:
    page = staff.get("/admin/cairn/health/").content.decode()
    answers = re.search(r'<td id="mode-answers">(.*?)</td>', page, re.S)
    assert answers and "offline extractive answerer" in answers.group(1)
    # Offline, no Claude model answers, so none is named.
    assert "claude-" not in page
    assert "Files API" in page and "off: offline mode" in page


def test_health_reconciles_queued_documents_with_the_queue(
    staff: Client, broker: str
) -> None:
    user = make_user()
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    # Queued in the database with no message anywhere: the page says so.
    Document.objects.filter(id=document.id).update(status="queued")
    from project.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.client.delete("ingest_cpu", "unacked")  # type: ignore[attr-defined]
    page = staff.get("/admin/cairn/health/").content.decode()
    assert "1 queued document(s) have no message in ingest_cpu" in page


def test_usage_page_and_answer_admin_with_feedback(staff: Client) -> None:
    user = make_user()
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    answer = answering.answer_question(
        workspace=document.workspace, user=user, text="How many vacation days?"
    )
    services.feedback_record(answer=answer, user=user, helpful=False, comment="Vague")
    usage = staff.get("/admin/cairn/usage/?days=7").content.decode()
    assert 'id="usage-chart"' in usage and usage.count("<rect") == 7
    assert user.username in usage
    feedback_list = staff.get("/admin/search/feedback/").content.decode()
    assert "Vague" in feedback_list and "How many vacation days?" in feedback_list
    detail = staff.get(f"/admin/search/answer/{answer.id}/change/").content.decode()
    assert "Retrieved chunks" in detail and "Employees get 25 days" in detail
    assert "Vague" in detail
    index = staff.get("/admin/").content.decode()
    assert "/admin/cairn/health/" in index and "/admin/cairn/usage/" in index


def test_document_admin_actions(staff: Client) -> None:
    user = make_user()
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    listing = staff.get("/admin/documents/document/?status__exact=ready")
    assert "handbook" in listing.content.decode()
    staff.post(
        "/admin/documents/document/",
        {"action": "reembed", "_selected_action": [str(document.id)]},
    )
    assert Document.objects.get(id=document.id).status == "queued"
    staff.post(
        "/admin/documents/document/",
        {"action": "delete_with_remote_file", "_selected_action": [str(document.id)]},
    )
    assert not Document.objects.filter(id=document.id).exists()


def test_health_page_reports_a_broker_that_is_down(staff: Client) -> None:
    from project.celery import app

    original = app.conf.broker_url
    app.conf["broker_url"] = "redis://127.0.0.1:1/0"
    try:
        page = staff.get("/admin/cairn/health/").content.decode()
    finally:
        app.conf["broker_url"] = original
    assert (
        '<p class="errornote" id="broker-error">The broker did not answer: error: '
        in page
    )
    assert '<td data-queue="celery">?</td>' in page
    assert "Workers unknown" in page


def test_health_page_counts_a_live_worker_by_its_heartbeat(worker: Any) -> None:
    import time

    from documents.health import broker_state

    deadline = time.monotonic() + 60
    while not broker_state().workers and time.monotonic() < deadline:
        time.sleep(0.5)
    staff = Client()
    staff.force_login(make_user(is_staff=True, is_superuser=True))
    page = staff.get("/admin/cairn/health/").content.decode()
    assert re.search(r'<p id="workers">1 live worker · <span title="queues: ', page)
    assert "celery@" in page
    assert "ingest_cpu, ingest_io" in page


def test_offline_the_health_page_asks_no_model(staff: Client, settings: Any) -> None:
    # The lifecycle comes from the Models API (tests/search/test_model_lifecycle.py);
    # anthropic 2.15 no longer lists claude-sonnet-4-5 in its own deprecation table.
    settings.CLAUDE_MODEL = "claude-sonnet-4-5"
    page = staff.get("/admin/cairn/health/").content.decode()
    assert "offline mode: no model is asked" in page
    assert 'id="model-notice"' not in page


def test_usage_page_does_not_price_offline_answers(staff: Client) -> None:
    user = make_user()
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    answering.answer_question(
        workspace=document.workspace, user=user, text="How many vacation days?"
    )
    usage = staff.get("/admin/cairn/usage/?days=7").content.decode()
    assert "unpriced" not in usage and "without a price" not in usage
    assert "none (offline)" in usage


def test_the_admin_adds_no_bare_documents_and_keeps_answers_read_only(
    staff: Client,
) -> None:
    user = make_user()
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    answer = answering.answer_question(
        workspace=document.workspace, user=user, text="How many vacation days?"
    )
    assert staff.get("/admin/documents/document/add/").status_code == 403
    listing = staff.get("/admin/documents/document/").content.decode()
    assert "/admin/documents/document/add/" not in listing
    detail = staff.get(f"/admin/search/answer/{answer.id}/change/").content.decode()
    assert 'name="text"' not in detail and "Employees get 25 days" in detail
    response = staff.post(
        f"/admin/search/answer/{answer.id}/change/", {"text": "rewritten"}
    )
    assert response.status_code == 403
    answer.refresh_from_db()
    assert answer.text != "rewritten"


def test_the_admin_adds_nothing_people_make_through_the_product(
    staff: Client,
) -> None:
    user = make_user()
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    answer = answering.answer_question(
        workspace=document.workspace, user=user, text="How many vacation days?"
    )
    feedback = services.feedback_record(
        answer=answer, user=user, helpful=True, comment="Clear"
    )
    for model in (
        "documents/document",
        "search/answer",
        "search/feedback",
        "search/question",
        "documents/apitoken",
        "documents/invitation",
        "documents/remotefiletombstone",
    ):
        assert staff.get(f"/admin/{model}/add/").status_code == 403, model
        listing = staff.get(f"/admin/{model}/").content.decode()
        assert f"/admin/{model}/add/" not in listing, model
    index = staff.get("/admin/").content.decode()
    assert "/admin/search/feedback/add/" not in index
    # Feedback is read, never rewritten.
    detail = staff.get(f"/admin/search/feedback/{feedback.id}/change/").content.decode()
    assert "Clear" in detail and 'name="comment"' not in detail
    response = staff.post(
        f"/admin/search/feedback/{feedback.id}/change/",
        {"comment": "rewritten", "helpful": "on"},
    )
    assert response.status_code == 403
    feedback.refresh_from_db()
    assert feedback.comment == "Clear"
