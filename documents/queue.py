"""What can be queued, by task name, on commit: the only door into Celery.

Services name a task instead of importing it, so the code that writes rows
never imports the tasks that call it back (tasks sit on top of services).
The names are Celery's own task names; routing to the CPU and network queues
follows CELERY_TASK_ROUTES by the same names.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from celery import current_app
from django.db import transaction

log = logging.getLogger(__name__)

INGEST = "documents.tasks.ingest_task"
REFRESH = "documents.tasks.refresh_task"
EMBEDDINGS_BUILD = "documents.tasks.embeddings_build_task"

# The stage of a queued document whose task the broker refused: it is kept,
# and the sweeper sends it once the broker answers again.
WAITING_FOR_QUEUE = "waiting for the queue"


def send(task: str, *args: str | int) -> None:
    """Send a task now."""
    current_app.send_task(task, args=list(args))


def send_on_commit(
    task: str, *args: str | int, unsent: Callable[[], None] | None = None
) -> None:
    """Send a task once the current transaction commits (at once outside one).

    A row committed before its task is sent is never read half-written by a
    worker; if the broker is down the row stays as it is, `unsent` is called
    (to say so where people see it), and the periodic sweeper sends it again.
    """

    def deliver() -> None:
        try:
            send(task, *args)
        except Exception:
            log.exception("could not queue %s%r; the sweeper will retry", task, args)
            if unsent is not None:
                unsent()

    transaction.on_commit(deliver)
