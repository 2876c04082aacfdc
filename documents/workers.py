"""Worker heartbeats: each Celery worker says it is alive in the broker's Redis.

The health page reads these keys in one round trip instead of broadcasting a
control ping and waiting out its timeout: a ping costs a second per page view
and goes unanswered by a solo worker busy with a long task, which then reads as
"no workers" although the worker is alive and working.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Any

from celery import current_app as app
from celery.signals import worker_ready, worker_shutdown

log = logging.getLogger(__name__)

PREFIX = "cairn:worker:"
INTERVAL_S = 10
# A worker missing two beats in a row is reported gone.
TTL_S = 3 * INTERVAL_S

_stop = threading.Event()


def key_for(hostname: str) -> str:
    """The Redis key of one worker's heartbeat."""
    return PREFIX + hostname


def beat(hostname: str, queues: list[str]) -> None:
    """Write one heartbeat: who, which queues, since when; it expires by itself."""
    body = json.dumps(
        {"hostname": hostname, "queues": queues, "pid": os.getpid(), "at": time.time()}
    )
    with app.connection_for_write() as conn:
        client = conn.default_channel.client  # type: ignore[attr-defined]
        client.set(key_for(hostname), body, ex=TTL_S)


def forget(hostname: str) -> None:
    """Remove a worker's heartbeat as it shuts down."""
    with app.connection_for_write() as conn:
        conn.default_channel.client.delete(key_for(hostname))  # type: ignore[attr-defined]


def _loop(hostname: str, queues: list[str]) -> None:
    while not _stop.is_set():
        try:
            beat(hostname, queues)
        except Exception:
            # The broker is down or restarting; the next beat tries again.
            log.warning("worker heartbeat failed", exc_info=True)
        _stop.wait(INTERVAL_S)


@worker_ready.connect
def start_heartbeat(sender: Any = None, **kwargs: Any) -> None:
    """Beat from a daemon thread, so a long task never silences the worker."""
    hostname = str(getattr(sender, "hostname", "") or "worker")
    consumer_queues = getattr(getattr(sender, "task_consumer", None), "queues", [])
    queues = sorted(str(queue.name) for queue in consumer_queues)
    _stop.clear()
    threading.Thread(
        target=_loop, args=(hostname, queues), name="cairn-heartbeat", daemon=True
    ).start()


@worker_shutdown.connect
def stop_heartbeat(sender: Any = None, **kwargs: Any) -> None:
    """Stop beating and say goodbye, so the page does not wait for the expiry."""
    _stop.set()
    hostname = str(getattr(sender, "hostname", "") or "")
    if hostname:
        try:
            forget(hostname)
        except Exception:
            log.warning("could not remove the worker heartbeat", exc_info=True)
