"""The sweep re-sends documents nobody works on, and only those."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import psycopg
import pytest
from django.db import OperationalError
from django.utils import timezone

from documents import sweeper
from documents.ingestion.locks import advisory_lock, document_lock
from documents.models import Document
from documents.services import document_create
from documents.tasks import IngestTask, ingest_index_task, ingest_task
from tests.conftest import HANDBOOK, upload


@pytest.fixture
def sent() -> Any:
    with mock.patch("documents.queue.send") as send:
        yield send


def _document(
    user: Any, workspace: Any, status: str, age_s: float, stage: str = ""
) -> Document:
    created = document_create(
        workspace=workspace,
        uploader=user,
        upload=upload(f"{status}-{age_s}-{stage}.md", f"{HANDBOOK} {age_s}".encode()),
    )
    Document.objects.filter(id=created.document.id).update(
        status=status,
        stage=stage,
        updated=timezone.now() - timedelta(seconds=age_s),
    )
    return Document.objects.get(id=created.document.id)


def _outage() -> OperationalError:
    """A lost connection, as Django raises it."""
    try:
        raise OperationalError("server closed the connection") from (
            psycopg.OperationalError("server closed the connection")
        )
    except OperationalError as exc:
        return exc


def _sent_ids(send: Any) -> set[str]:
    return {call.args[1] for call in send.call_args_list}


def test_a_processing_document_no_worker_holds_is_sent_again(
    user: Any, workspace: Any, sent: Any, settings: Any
) -> None:
    settings.STALE_DOCUMENT_S = 90
    lost = _document(user, workspace, "processing", 120, "embedding 3/9 chunks")
    recent = _document(user, workspace, "processing", 30, "embedding 3/9 chunks")
    ready = _document(user, workspace, "ready", 3600, "ready")
    assert sweeper.requeue_stale() == 1
    assert _sent_ids(sent) == {str(lost.id)}
    sent.assert_called_with("documents.tasks.ingest_task", str(lost.id))
    lost.refresh_from_db()
    assert lost.updated > timezone.now() - timedelta(seconds=5), "touched once sent"
    assert sweeper.requeue_stale() == 0, "not again on the next sweep"
    assert {recent.status, ready.status} == {"processing", "ready"}


def test_a_document_a_live_worker_holds_is_left_alone(
    user: Any, workspace: Any, sent: Any, settings: Any
) -> None:
    settings.STALE_DOCUMENT_S = 90
    busy = _document(user, workspace, "processing", 600, "extracting page 1/900")
    with document_lock(busy.id) as locked:
        assert locked
        assert sweeper.requeue_stale() == 0
    assert sweeper.requeue_stale() == 1


def test_a_document_waiting_for_a_retry_gets_the_backoff_on_top(
    user: Any, workspace: Any, sent: Any, settings: Any
) -> None:
    settings.STALE_DOCUMENT_S = 90
    settings.TASK_RETRY_BACKOFF_MAX_S = 300
    _document(user, workspace, "processing", 200, sweeper.RETRYING)  # still waiting
    lost = _document(user, workspace, "processing", 400, sweeper.RETRYING)
    sweeper.requeue_stale()
    assert _sent_ids(sent) == {str(lost.id)}


def test_a_queued_document_is_sent_again_once_stale(
    user: Any, workspace: Any, sent: Any, settings: Any
) -> None:
    settings.STALE_DOCUMENT_S = 90
    never_sent = _document(user, workspace, "queued", 100)
    _document(user, workspace, "queued", 10)
    sweeper.requeue_stale()
    assert _sent_ids(sent) == {str(never_sent.id)}


@pytest.mark.parametrize("key", [-5, 7, 2**40 + 3, 2**63 - 1, -(2**63)])
def test_held_advisory_locks_reads_back_every_key(db: None, key: int) -> None:
    from documents.ingestion import locks

    with mock.patch.object(locks, "lock_key", return_value=key):
        with advisory_lock("anything") as locked:
            assert locked
            assert key in sweeper.held_advisory_locks()
        assert key not in sweeper.held_advisory_locks()


def test_a_database_outage_does_not_fail_the_document(
    user: Any, workspace: Any
) -> None:
    document = _document(user, workspace, "processing", 0, "embedding")
    IngestTask().on_failure(_outage(), "task", [str(document.id)], {}, None)
    document.refresh_from_db()
    assert document.status == "processing"
    IngestTask().on_failure(RuntimeError("boom"), "task", [str(document.id)], {}, None)
    document.refresh_from_db()
    assert document.status == "failed"


def test_a_retry_marks_the_document_retrying(user: Any, workspace: Any) -> None:
    document = _document(user, workspace, "processing", 500, "uploading")
    IngestTask().on_retry(RuntimeError("429"), "task", [str(document.id)], {}, None)
    document.refresh_from_db()
    assert document.stage == sweeper.RETRYING
    assert document.updated > timezone.now() - timedelta(seconds=5)


def test_a_broker_outage_between_stages_leaves_the_document_to_the_sweep(
    user: Any, workspace: Any
) -> None:
    document = _document(user, workspace, "queued", 0)
    with mock.patch.object(
        ingest_index_task, "delay", side_effect=ConnectionError("broker down")
    ):
        ingest_task.apply(args=(str(document.id),))
    document.refresh_from_db()
    assert document.status == "processing", document.error
    assert document.text


def test_a_database_outage_retries_the_stage_instead_of_failing_it(
    user: Any, workspace: Any
) -> None:
    document = _document(user, workspace, "processing", 0, "embedding")
    outage = _outage()
    with mock.patch(
        "documents.ingestion.pipeline.document_ingest", side_effect=[outage, False]
    ) as ingest:
        result = ingest_index_task.apply(args=(str(document.id),))
    assert ingest.call_count == 2, "run again once the database answered"
    assert result.successful()
    document.refresh_from_db()
    assert document.status == "processing"
