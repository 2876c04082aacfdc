"""Cairn's Prometheus metrics, and the one-line helpers the choke points call.

Counters and histograms live in the process that moves them. Under
`project.run` every process writes them to files in PROMETHEUS_MULTIPROC_DIR
(prometheus_client's multiprocess mode, chosen when the variable is set before
this module loads), and `/metrics` (project/scrape.py) adds up the files of
every web and worker process on the machine. Documents by status and queue
depths are not kept here: the scrape reads them from the database and the
broker, so they are right whichever process answers. This module knows no SDK (the
rate limiter's spawned processes import it): documents.remote.errors names the
kind of an outside error and wraps the calls.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import Counter, Histogram

# Seconds: from a few milliseconds (a small store) to many minutes (a 2,000-page
# PDF's extraction, a long embedding run under rate limits).
_STAGE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)
_CALL_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

INGEST_STAGE_SECONDS = Histogram(
    "cairn_ingest_stage_seconds",
    "Time spent in one ingestion stage of one document.",
    ["stage"],
    buckets=_STAGE_BUCKETS,
)
INGEST_PAGES = Counter("cairn_ingest_pages", "Pages of documents that became ready.")
INGEST_CHUNKS = Counter("cairn_ingest_chunks", "Chunks stored for ready documents.")
INGEST_DOCUMENTS = Counter(
    "cairn_ingest_documents", "Ingestions that ended, by result.", ["result"]
)
SEARCH_SECONDS = Histogram(
    "cairn_search_seconds",
    "Time of one retrieval (dense, full text, fusion, rerank).",
    buckets=_CALL_BUCKETS,
)
ANSWER_SECONDS = Histogram(
    "cairn_answer_seconds",
    "Time from question to stored answer, by mode (claude, offline).",
    ["mode"],
    buckets=_CALL_BUCKETS,
)
ANSWER_TOKENS = Counter(
    "cairn_answer_tokens",
    "Claude tokens used by answers: input, output, cache_read, cache_write.",
    ["model", "kind"],
)
API_CALLS = Counter(
    "cairn_api_calls",
    "Calls to an outside API: files_api, messages, voyage_embed, voyage_rerank.",
    ["api"],
)
API_ERRORS = Counter(
    "cairn_api_errors",
    "Outside API calls that failed, by kind: rate_limit, timeout, connection, "
    "server, client, other.",
    ["api", "kind"],
)
API_SECONDS = Histogram(
    "cairn_api_call_seconds",
    "Time of one outside API call (a stream: until its last event).",
    ["api"],
    buckets=_CALL_BUCKETS,
)
RATE_LIMIT_WAIT_SECONDS = Histogram(
    "cairn_rate_limit_wait_seconds",
    "Each wait for a slot of the shared rate limiter, by limiter.",
    ["limiter"],
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60),
)


def api_call(api: str) -> None:
    """Count one call to an outside API (documents.remote.errors.outside_call
    counts, times and classifies one where a `with` block fits)."""
    API_CALLS.labels(api).inc()


def api_failed(api: str, kind: str) -> None:
    """Count one failed call to an outside API, by kind (errors.error_kind)."""
    API_ERRORS.labels(api, kind).inc()


def api_seconds(api: str, seconds: float) -> None:
    """Record how long one outside API call took."""
    API_SECONDS.labels(api).observe(seconds)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Time one ingestion stage: extract, chunk, upload, embed or store."""
    started = time.monotonic()
    try:
        yield
    finally:
        INGEST_STAGE_SECONDS.labels(name).observe(time.monotonic() - started)


def stage_since(name: str, started: float) -> None:
    """Record a stage that began at `started` (time.monotonic()) and ends now."""
    INGEST_STAGE_SECONDS.labels(name).observe(time.monotonic() - started)


def ingested(*, pages: int, chunks: int) -> None:
    """A document became ready with this many pages and chunks."""
    INGEST_DOCUMENTS.labels("ready").inc()
    INGEST_PAGES.inc(pages)
    INGEST_CHUNKS.inc(chunks)


def ingest_failed() -> None:
    """A document was marked failed."""
    INGEST_DOCUMENTS.labels("failed").inc()


def rate_limit_waited(limiter: str, seconds: float) -> None:
    """A caller waits this long for a slot of a shared rate limiter."""
    RATE_LIMIT_WAIT_SECONDS.labels(limiter).observe(seconds)


def answered(*, mode: str, model: str, seconds: float, usage: dict[str, Any]) -> None:
    """An answer was stored: its latency, and Claude's token usage if any."""
    ANSWER_SECONDS.labels(mode).observe(seconds)
    for key, value in usage.items():
        if value:
            ANSWER_TOKENS.labels(model, key.removesuffix("_tokens")).inc(value)
