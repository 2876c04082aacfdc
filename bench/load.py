"""Concurrent clients against the real web tier, on loopback.

`python -m bench load [--clients 50] [--seconds 120] [--ask 0.2]`

Runs after `bench retrieval-corpus` has loaded the FinanceBench workspace
(`corpus:0`, reused as is): starts the product's web role (gunicorn, as
`python -m project.run --role web` runs it) on a free loopback port against
the bench database, gives a bench user an API token in that workspace, then
N client threads each keep one connection open and send, for the given time,
`POST /api/v1/search` (top 10) or, with the given share, `POST /api/v1/ask`
(offline), with queries drawn from the corpus. Reported: requests, errors,
requests/s, and p50/p95/max per endpoint, beside the machine's load average.
Bounded: clients stop at the deadline and the server is stopped by its pid.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.corpus import corpus_queries, questions, setup_django

BASE_DIR = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _token(workspace: Any) -> str:
    """A bench user, a member of the corpus workspace, and a new API token."""
    from django.contrib.auth import get_user_model

    from documents.api_auth import token_create
    from documents.models import Membership

    user, _ = get_user_model().objects.get_or_create(username="bench-load")
    Membership.objects.get_or_create(
        user=user, workspace=workspace, defaults={"role": Membership.Role.VIEWER}
    )
    return token_create(user=user, name="bench-load")


def _start_web(port: int, workers: str) -> subprocess.Popen[bytes]:
    from django.conf import settings

    env = dict(os.environ)
    env.update(
        DATABASE_URL=str(settings.DATABASE_URL),
        CELERY_BROKER_URL="memory://",
        CAIRN_SKIP_DOTENV="1",
        PORT=str(port),
        HOST="127.0.0.1",
        WEB_CONCURRENCY=workers,
        ALLOWED_HOSTS="127.0.0.1",
        SECRET_KEY="bench-load-" + "x" * 50,
        DEBUG="0",
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "project.run", "--role", "web"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            if server.poll() is not None:
                error = server.stderr.read().decode() if server.stderr else ""
                message = f"bench load: the web tier exited:\n{error[-2000:]}"
                raise SystemExit(message) from None
            time.sleep(0.5)
    os.killpg(server.pid, signal.SIGTERM)
    raise SystemExit("bench load: the web tier did not listen within 60 s")


def _client(
    port: int,
    token: str,
    queries: list[str],
    ask_share: float,
    deadline: float,
    seed: int,
    out: list[tuple[str, float, int]],
) -> None:
    """One client: one keep-alive connection, requests back to back."""
    rng = random.Random(seed)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    while time.monotonic() < deadline:
        query = rng.choice(queries)
        body: dict[str, object]
        if rng.random() < ask_share:
            path, body = "/api/v1/ask", {"question": query}
        else:
            path, body = "/api/v1/search", {"query": query, "top_k": 10}
        started = time.perf_counter()
        try:
            connection.request("POST", path, json.dumps(body), headers)
            response = connection.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            status = 0
        out.append((path, (time.perf_counter() - started) * 1000, status))
    connection.close()


def _report(results: list[tuple[str, float, int]], seconds: float) -> None:
    errors = sum(1 for _, _, status in results if status != 200)
    rate = len(results) / seconds
    print(
        f"  {len(results)} requests in {seconds:.0f} s ({rate:.1f}/s),"
        f" {errors} not 200, load average {os.getloadavg()[0]:.1f}"
    )
    for path in ("/api/v1/search", "/api/v1/ask"):
        times = sorted(ms for p, ms, status in results if p == path and status == 200)
        if not times:
            continue
        print(
            f"  {path:<16} {len(times):>6}  p50 {statistics.median(times):7.0f} ms"
            f"   p95 {times[int(0.95 * len(times)) - 1]:7.0f} ms   max {times[-1]:7.0f}"
        )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench load")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--ask", type=float, default=0.2, help="share of /ask")
    parser.add_argument("--workers", default=os.environ.get("WEB_CONCURRENCY", "2"))
    args, _ = parser.parse_known_args(argv)
    setup_django()
    from documents.models import Workspace

    workspace = Workspace.objects.filter(name="corpus:0").first()
    if workspace is None:
        raise SystemExit("bench load: run `python -m bench retrieval-corpus` first")
    data = BASE_DIR.parent / "shared" / "data"
    if not data.is_dir():
        data = Path("/work/shared/data")
    queries = [item["question"] for item in questions(data)]
    queries += corpus_queries(workspace.id, 300 - len(queries), seed=1)
    token = _token(workspace)
    port = _free_port()
    server = _start_web(port, args.workers)
    try:
        out: list[tuple[str, float, int]] = []
        # One request per client first, so start-up is not measured.
        warm = time.monotonic() + 0.1
        _client(port, token, queries, 0.0, warm, 0, out)
        out.clear()
        started = time.monotonic()
        deadline = started + args.seconds
        threads = [
            threading.Thread(
                target=_client,
                args=(port, token, queries, args.ask, deadline, seed, out),
            )
            for seed in range(args.clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(
            f"load: {args.clients} clients, {args.ask:.0%} ask, web workers "
            f"{args.workers} x 8 threads, workspace corpus:0"
        )
        _report(out, time.monotonic() - started)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    return 0
