"""One rate limiter for every worker process: a sliding one-minute log in Redis.

Each call adds a timestamped member to a sorted set after dropping those older than
the window, inside one Lua script, so ten workers on three machines together never
exceed the rate; the clock is Redis's own, so workers' clocks never disagree.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from functools import lru_cache

import redis
from django.conf import settings

from project import metrics

log = logging.getLogger(__name__)

WINDOW_MS = 60_000

# Returns 0 when a slot was taken, else milliseconds until the oldest call ages out.
_ACQUIRE = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local member = ARGV[3]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, window)
  return 0
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""


def redis_url() -> str:
    """The broker's Redis as a redis-py URL (kombu's redis+socket:// is a socket)."""
    url = str(settings.CELERY_BROKER_URL)
    if url.startswith("redis+socket://"):
        return "unix://" + url.removeprefix("redis+socket://")
    return url


@lru_cache(maxsize=8)
def _connection(url: str, pid: int) -> redis.Redis:
    """One client per process: a socket inherited across fork must not be shared."""
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)


class RateLimiter:
    """At most `per_minute` acquisitions per sliding minute across all processes."""

    def __init__(
        self,
        name: str,
        per_minute: int,
        *,
        url: str | None = None,
        window_ms: int = WINDOW_MS,
    ) -> None:
        self.name = name
        self.key = f"cairn:ratelimit:{name}"
        self.per_minute = per_minute
        self.url = url or redis_url()
        # Only tests shorten the window; the limit is then per window_ms.
        self.window_ms = window_ms

    def try_acquire(self) -> float:
        """Take a slot now and return 0.0, or return seconds to wait for one."""
        client = _connection(self.url, os.getpid())
        wait_ms = client.eval(
            _ACQUIRE, 1, self.key, self.per_minute, self.window_ms, uuid.uuid4().hex
        )
        return int(wait_ms) / 1000.0

    def acquire(self, *, timeout: float = 300.0) -> None:
        """Block until a slot is free; fail open (log) when Redis is unreachable.

        Failing open is deliberate: a limiter outage must not stop ingestion, and
        the API's own 429s are still retried with backoff.
        """
        if self.per_minute <= 0:
            return
        deadline = time.monotonic() + timeout
        while True:
            try:
                wait = self.try_acquire()
            except redis.RedisError as exc:
                log.warning("rate limiter unavailable (%s); calling anyway", exc)
                return
            if wait <= 0:
                return
            if time.monotonic() + wait > deadline:
                raise TimeoutError(f"rate limit {self.key}: no slot in {timeout}s")
            metrics.rate_limit_waited(self.name, wait)
            time.sleep(wait)


def files_api_limiter() -> RateLimiter:
    """The limiter every Files API call passes through."""
    return RateLimiter("files-api", int(settings.FILES_API_RATE_PER_MINUTE))
