"""Page benchmark: server time of the documents list and the health pages at scale.

Runs on its own CAIRN_VAR_DIR (var/bench): embedded PostgreSQL and Redis, one
workspace seeded with --documents documents (mixed statuses, types, tags, a
few chunks each) and one idle Celery worker, so the health page sees a live
worker as it would in production. Each page is requested in-process through
Django's test client (routing, middleware, queries, template), --runs times
after one warm-up; the fastest, the median and the slowest are reported, with
the load average, since other work on the machine slows every figure.
`python -m bench pages [--documents 10000] [--runs 15] [--no-worker]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench import ingestion

BASE_DIR = Path(__file__).resolve().parent.parent
WORKSPACE_NAME = "bench pages"

PAGES = (
    ("documents list", "/documents/"),
    ("list, page 40", "/documents/?page=40"),
    ("list, title search", "/documents/?q=report+17"),
    (
        "list, failed PDFs tagged finance",
        "/documents/?status=failed&type=pdf&tag=finance",
    ),
    ("list, sorted by title", "/documents/?sort=title"),
    (
        "status poll, 50 rows, none changed",
        "/documents/status.json?ids={ids}&since={since}",
    ),
    ("ingestion health", "/admin/cairn/health/"),
    ("/healthz (probe)", "/healthz"),
)


def seed(count: int) -> tuple[Any, Any]:
    """The bench workspace with `count` documents, and a staff member of it."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from documents.models import Chunk, Document, Membership, Workspace

    User = get_user_model()
    user, _ = User.objects.get_or_create(
        username="bench-pages", defaults={"is_staff": True, "is_superuser": True}
    )
    workspace = Workspace.objects.filter(name=WORKSPACE_NAME).first()
    if workspace is None:
        workspace = Workspace.objects.create(name=WORKSPACE_NAME)
        Membership.objects.create(user=user, workspace=workspace, role="admin")
    have = Document.objects.filter(workspace=workspace).count()
    if have >= count:
        return workspace, user
    kinds = [
        ("application/pdf", ".pdf"),
        ("text/markdown", ".md"),
        ("text/csv", ".csv"),
        (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ".docx",
        ),
        ("text/html", ".html"),
    ]
    statuses = ["ready"] * 17 + ["failed", "queued", "processing"]
    tags = [[], ["finance"], ["policy"], ["finance", "2023"], ["hr"]]
    documents = []
    for index in range(have, count):
        mime, suffix = kinds[index % len(kinds)]
        status = statuses[index % len(statuses)]
        documents.append(
            Document(
                workspace=workspace,
                uploader=user,
                original_name=f"report-{index}{suffix}",
                original=f"originals/bench/report-{index}{suffix}",
                title=f"Report {index} {uuid.uuid4().hex[:6]}",
                mime_type=mime,
                sha256=uuid.uuid4().hex * 2,
                size=10_000 + index,
                status=status,
                stage="ready" if status == "ready" else "",
                progress=100 if status == "ready" else 0,
                error="The PDF is damaged and cannot be read."
                if status == "failed"
                else "",
                pages=12 if mime == "application/pdf" else None,
                files_api_note="offline mode (no ANTHROPIC_API_KEY)",
                tags=tags[index % len(tags)],
            )
        )
    Document.objects.bulk_create(documents, batch_size=2000)
    chunks = [
        Chunk(
            document=document,
            workspace=workspace,
            ordinal=ordinal,
            text=f"Passage {ordinal} of {document.title}.",
            start_char=ordinal * 40,
            end_char=ordinal * 40 + 39,
            token_estimate=10,
        )
        for document in documents
        if document.status == "ready"
        for ordinal in range(4)
    ]
    Chunk.objects.bulk_create(chunks, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE documents_document; ANALYZE documents_chunk")
    return workspace, user


def start_worker() -> subprocess.Popen[bytes]:
    """One idle worker on every queue, as `make run` starts it."""
    from django.conf import settings

    env = os.environ | {"CAIRN_VAR_DIR": str(settings.VAR_DIR)}
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "project", "worker", "--pool", "solo",
         "--loglevel", "WARNING", "--queues", settings.CELERY_QUEUES_ALL],
        cwd=BASE_DIR,
        env=env,
    )  # fmt: skip


def wait_for_worker(timeout: float = 120) -> None:
    """Until the worker's heartbeat is in the broker, and its start-up is over."""
    from documents.health import broker_state

    deadline = time.monotonic() + timeout
    while not broker_state().workers and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(3)  # the worker's own start-up work must not count against pages


def time_page(client: Any, path: str, runs: int) -> tuple[float, float, float, int]:
    """Fastest, median and slowest milliseconds of `runs` requests, and the status.

    On a shared machine the fastest run is the one least slowed by others.
    """
    response = client.get(path)  # warm-up: connections, template loading
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
    return min(samples), statistics.median(samples), max(samples), response.status_code


def main(argv: list[str]) -> int:
    """Seed, then time each page and print the report."""
    parser = argparse.ArgumentParser(prog="bench pages")
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--no-worker", action="store_true")
    parser.add_argument("names", nargs="*")
    args = parser.parse_args(argv)
    ingestion.setup()
    from django.test import Client
    from django.utils import timezone

    workspace, user = seed(args.documents)
    worker = None if args.no_worker else start_worker()
    try:
        if worker is not None:
            wait_for_worker()
        client = Client()
        client.force_login(user)
        since = timezone.now().isoformat()
        # What the page polls for: the rows it shows (the newest 50).
        from documents.models import Document

        newest = Document.objects.filter(workspace=workspace).order_by("-created")
        ids = ",".join(str(i) for i in newest.values_list("id", flat=True)[:50])
        workers = "no worker" if worker is None else "one idle worker"
        print(
            f"\n== pages ({args.documents} documents, {args.runs} runs, {workers}) =="
        )
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"load average {load} on {os.cpu_count()} CPUs")
        print(
            f"{'page':<36} {'min ms':>8} {'median ms':>10} {'max ms':>8} {'status':>6}"
        )
        for name, path in PAGES:
            url = path.format(since=since.replace("+", "%2B"), ids=ids)
            fastest, median, slowest, status = time_page(client, url, args.runs)
            print(
                f"{name:<36} {fastest:>8.1f} {median:>10.1f} {slowest:>8.1f} "
                f"{status:>6}"
            )
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
    return 0
