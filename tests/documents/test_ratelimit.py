"""The shared Files API rate limiter, against the real Redis, from many processes."""

from __future__ import annotations

import multiprocessing
import time
import uuid
from typing import Any

from documents.remote.ratelimit import RateLimiter, redis_url


def _take_all(url: str, name: str, tries: int, queue: Any) -> None:
    limiter = RateLimiter(name, 20, url=url)
    queue.put(sum(limiter.try_acquire() == 0 for _ in range(tries)))


def _acquire_many(url: str, name: str, count: int, queue: Any) -> None:
    limiter = RateLimiter(name, 5, url=url, window_ms=1000)
    for _ in range(count):
        limiter.acquire(timeout=30)
        queue.put(time.time())


def _run(target: Any, args: tuple[Any, ...], processes: int) -> list[Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [
        context.Process(target=target, args=(*args, queue)) for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    results = []
    while not queue.empty():
        results.append(queue.get())
    return results


def test_processes_together_never_exceed_the_limit(broker: str) -> None:
    name = f"test-{uuid.uuid4().hex}"
    taken = _run(_take_all, (redis_url(), name, 15), processes=6)
    assert len(taken) == 6
    assert sum(taken) == 20, "exactly the limit, shared across six processes"
    assert RateLimiter(name, 20).try_acquire() > 0, "the next caller must wait"


def test_blocked_callers_wait_for_the_window_to_slide(broker: str) -> None:
    name = f"test-{uuid.uuid4().hex}"
    started = time.time()
    stamps = sorted(_run(_acquire_many, (redis_url(), name, 5), processes=4))
    assert len(stamps) == 20
    # 20 calls at 5 per second take at least three further windows.
    assert stamps[-1] - started >= 2.9
    for index, stamp in enumerate(stamps):
        in_window = [s for s in stamps[index:] if s - stamp < 0.95]
        assert len(in_window) <= 5


def test_a_zero_rate_disables_the_limiter(settings: Any) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    RateLimiter("off", 0).acquire(timeout=0.1)


def test_an_unreachable_redis_fails_open(settings: Any) -> None:
    limiter = RateLimiter("down", 5, url="redis://127.0.0.1:1/0")
    started = time.monotonic()
    limiter.acquire(timeout=5)
    assert time.monotonic() - started < 5
