"""Celery tasks: thin wrappers that take ids and call one service.

Their names (documents.tasks.*) are what documents.queue sends and what
CELERY_TASK_ROUTES and the beat schedule name; they never change.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import Task, shared_task
from django.conf import settings

from documents import sweeper
from documents.ingestion import kinds, pipeline, spaces
from documents.remote import files
from documents.remote.errors import TransientError, transient
from documents.web import documents as web_documents
from project.outage import database_unavailable

log = logging.getLogger(__name__)


class IngestTask(Task):  # type: ignore[type-arg]
    """Marks the document failed once its retries are spent."""

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        if database_unavailable(exc):
            # Not the document's fault: it stays queued or processing, and the
            # sweeper sends it again once the database is back.
            log.warning("ingestion of %r stopped: the database is unavailable", args)
            return
        pipeline.document_fail(
            document_id=_document_id(args, kwargs),
            reason=f"An outside service kept failing; retry later. Last error: {exc}",
            kind=kinds.SERVICE,
        )

    def on_retry(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        sweeper.document_retrying(document_id=_document_id(args, kwargs))


def _document_id(args: Any, kwargs: Any) -> Any:
    return args[0] if args else kwargs.get("document_id")


# Both ingestion stages: acknowledged only when done (a lost worker's document
# is redelivered), outside-service hiccups retried with backoff, then failed.
_ingest_stage = shared_task(
    base=IngestTask,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(TransientError,),
    retry_backoff=5,
    retry_backoff_max=settings.TASK_RETRY_BACKOFF_MAX_S,
    retry_jitter=True,
    max_retries=5,
)


# Seconds before a stage cut off by a database outage runs again (the embedded
# PostgreSQL is back within seconds under `make run`).
DATABASE_RETRY_S = 5


def _stage(task: Task, document_id: str, stage: str) -> bool:  # type: ignore[type-arg]
    """Run one stage; a database outage retries it soon instead of failing it.

    Without this a worker would take every queued message while the database
    restarts, fail each at once and leave the documents to the sweep.
    """
    try:
        return pipeline.document_ingest(document_id=document_id, stage=stage)
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        raise task.retry(exc=exc, countdown=DATABASE_RETRY_S) from exc


@_ingest_stage
def ingest_task(self: Task, document_id: str) -> None:  # type: ignore[type-arg]
    """Stage 1 on the CPU queue: extract the text, then hand over to stage 2."""
    if _stage(self, document_id, "extract"):
        try:
            ingest_index_task.delay(document_id)
        except Exception:
            # The broker is down: the extracted document waits in processing,
            # and the sweeper sends it again (it is not the document's failure).
            log.exception("could not queue stage 2 of %s", document_id)


@_ingest_stage
def ingest_index_task(self: Task, document_id: str) -> None:  # type: ignore[type-arg]
    """Stage 2 on the network queue: chunk, upload, embed and store."""
    _stage(self, document_id, "index")


@shared_task(acks_late=True)
def requeue_stale_task() -> int:
    """Periodic sweep: re-queue documents that were never sent or lost their worker."""
    return sweeper.requeue_stale()


@shared_task(acks_late=True)
def refresh_task(document_id: str) -> bool:
    """Re-fetch a URL document; a changed page is queued for ingestion."""
    return web_documents.document_refetch(document_id=document_id)


@shared_task(acks_late=True)
def drain_tombstones_task() -> int:
    """Periodic: delete remote files still owed a delete; return how many remain."""
    return files.tombstones_drain()[1]


@shared_task(acks_late=True)
def files_reconcile_task() -> dict[str, Any]:
    """Periodic: report orphaned remote files and documents missing or expired."""
    report = files.files_reconcile(fix=False)
    if report.orphans or report.missing or report.expired:
        log.warning("files reconcile: %s", report.summary())
    return files.reconcile_summary(report)


@shared_task(acks_late=True)
def files_refresh_expiring_task() -> int:
    """Periodic: re-upload files of ready documents that expire within a day."""
    return files.documents_refresh_expiring(within=timedelta(days=1))


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(TransientError,),
    retry_backoff=5,
    retry_backoff_max=settings.TASK_RETRY_BACKOFF_MAX_S,
    retry_jitter=True,
    max_retries=10,
)
def embeddings_build_task(space_id: int) -> str:
    """Re-embed chunks into a space for one time slice; re-queue until it is done."""
    try:
        result = spaces.space_build(space_id=space_id)
    except Exception as exc:
        if transient(exc):
            raise TransientError(str(exc)) from exc
        # Kept for the admin; the beat reconcile tries again in a minute.
        spaces.space_record_error(space_id=space_id, error=str(exc))
        raise
    if result.state == "more":
        embeddings_build_task.delay(space_id)
    return result.state


@shared_task(acks_late=True)
def embeddings_reconcile_task() -> dict[str, Any]:
    """Periodic: start or resume a switch to the configured embedding space."""
    return spaces.spaces_reconcile()
