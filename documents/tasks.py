"""Celery tasks: thin wrappers that take ids and call one service.

Their names (documents.tasks.*) are what documents.queue sends and what
CELERY_TASK_ROUTES and the beat schedule name; they never change.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task

from documents import services
from documents.ingestion import pipeline, spaces
from documents.remote import files
from documents.remote.errors import TransientError, transient
from documents.web import documents as web_documents

log = logging.getLogger(__name__)


class IngestTask(Task):  # type: ignore[type-arg]
    """Marks the document failed once its retries are spent."""

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        document_id = args[0] if args else kwargs.get("document_id")
        pipeline.document_fail(
            document_id=document_id,
            reason=f"An outside service kept failing; retry later. Last error: {exc}",
            kind="service",
        )


# Both ingestion stages: acknowledged only when done (a lost worker's document
# is redelivered), outside-service hiccups retried with backoff, then failed.
_ingest_stage = shared_task(
    base=IngestTask,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(TransientError,),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
)


@_ingest_stage
def ingest_task(self: Task, document_id: str) -> None:  # type: ignore[type-arg]
    """Stage 1 on the CPU queue: extract the text, then hand over to stage 2."""
    if pipeline.document_ingest(document_id=document_id, stage="extract"):
        ingest_index_task.delay(document_id)


@_ingest_stage
def ingest_index_task(self: Task, document_id: str) -> None:  # type: ignore[type-arg]
    """Stage 2 on the network queue: chunk, upload, embed and store."""
    pipeline.document_ingest(document_id=document_id, stage="index")


@shared_task(acks_late=True)
def requeue_stale_task() -> int:
    """Periodic sweep: re-queue documents that were never sent or got stuck."""
    return services.requeue_stale()


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
    """Periodic: report orphaned remote files and documents missing theirs."""
    report = files.files_reconcile(fix=False)
    if report.orphans or report.missing:
        log.warning("files reconcile: %s", report.summary())
    return files.reconcile_summary(report)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(TransientError,),
    retry_backoff=5,
    retry_backoff_max=300,
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
