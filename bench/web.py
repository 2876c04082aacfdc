"""Web tier benchmark: Django behind the previous and the current web command, and MCP.

The web role moved from gunicorn's threaded worker serving project.wsgi to its
ASGI worker serving project/asgi.py (Django through a2wsgi's threads, /mcp
beside it). This runs both commands one after the other in the same run, on
the same database (var/bench, embedded PostgreSQL, offline), and sends each
the same requests: a Django page, the REST documents list and the REST search,
--requests of each with --concurrency at a time; then, on the current command,
one MCP `search` call at a time in an open session beside the same REST
search. Printed with the load average: other work on the machine slows every
figure. `python -m bench web [--requests 200] [--concurrency 8]`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import ingestion

BASE_DIR = Path(__file__).resolve().parent.parent
WORKSPACE_NAME = "bench web"
TEXT = (
    "# Handbook\n\n## Vacation\n\nEmployees get 25 days of paid vacation per year. "
    "Unused vacation days roll over until the end of March.\n\n## Expenses\n\n"
    "Submit expense reports within 30 days through the finance portal.\n"
)


def previous_command(port: int) -> list[str]:
    """The web role's command before MCP: threaded workers over project.wsgi."""
    return [
        sys.executable, "-m", "gunicorn", "project.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--worker-class", "gthread",
        "--workers", "2", "--threads", "8", "--timeout", "180",
        "--no-control-socket",
    ]  # fmt: skip


def current_command(port: int) -> list[str]:
    from project.run import role_command

    return role_command("web", {"PORT": str(port), "WEB_CONCURRENCY": "2"})


def seed() -> str:
    """The bench workspace with a few ingested documents; a token of its admin."""
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    from documents.api_auth import token_create
    from documents.ingestion.pipeline import document_ingest
    from documents.models import Document, Membership, Workspace
    from documents.services import document_create

    user, _ = get_user_model().objects.get_or_create(username="bench-web")
    workspace = Workspace.objects.filter(name=WORKSPACE_NAME).first()
    if workspace is None:
        workspace = Workspace.objects.create(name=WORKSPACE_NAME)
        Membership.objects.create(user=user, workspace=workspace, role="admin")
    if not Document.objects.filter(workspace=workspace).exists():
        for index in range(20):
            body = f"{TEXT}\nSection {index}: policy number {index * 7}.\n"
            upload = SimpleUploadedFile(f"handbook-{index}.md", body.encode())
            created = document_create(workspace=workspace, uploader=user, upload=upload)
            document_ingest(document_id=created.document.id)
    return token_create(user=user, name="bench")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _request(url: str, token: str, body: Any = None) -> int:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
        return int(response.status)


def _serve(argv: list[str], port: int) -> subprocess.Popen[bytes]:
    from django.conf import settings

    from project.run import child_environment

    process = subprocess.Popen(
        argv, cwd=BASE_DIR, env=child_environment(settings),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if _request(f"http://127.0.0.1:{port}/login/", "") == 200:
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"{argv[3]} did not answer within 120 s")


def _load(call: Callable[[], int], requests: int, concurrency: int) -> str:
    """Requests per second, median and 95th percentile milliseconds."""

    def timed(_: int) -> float:
        started = time.perf_counter()
        assert call() == 200
        return (time.perf_counter() - started) * 1000

    for _ in range(5):
        call()
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        times = sorted(pool.map(timed, range(requests)))
    rate = requests / (time.perf_counter() - started)
    p95 = times[int(len(times) * 0.95) - 1]
    return f"{rate:>8.1f} {statistics.median(times):>10.1f} {p95:>8.1f}"


def _mcp_search(url: str, token: str, runs: int) -> list[float]:
    """Milliseconds of each MCP `search` call, one at a time in one session."""
    import anyio
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def main() -> list[float]:
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=60) as http,
            streamable_http_client(url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            times = []
            for index in range(runs + 5):
                started = time.perf_counter()
                result = await session.call_tool(
                    "search", {"query": "paid vacation days", "top_k": 10}
                )
                assert not result.is_error
                if index >= 5:
                    times.append((time.perf_counter() - started) * 1000)
            return times

    return anyio.run(main)


def _measure(name: str, base: str, token: str, requests: int, concurrency: int) -> None:
    """Print the three requests' figures against one running command."""
    search = {"query": "paid vacation days", "top_k": 10}
    calls: list[tuple[str, Callable[[], int]]] = [
        ("GET /login/", lambda: _request(base + "/login/", "")),
        ("GET /api/v1/documents", lambda: _request(base + "/api/v1/documents", token)),
        (
            "POST /api/v1/search",
            lambda: _request(base + "/api/v1/search", token, search),
        ),
    ]
    for label, call in calls:
        print(f"{name:<24} {label:<24} {_load(call, requests, concurrency)}")


def _compare_search(base: str, token: str, runs: int) -> None:
    """REST search and MCP search, one call at a time, on the current command."""
    search = {"query": "paid vacation days", "top_k": 10}
    rest = []
    for _ in range(runs):
        started = time.perf_counter()
        _request(base + "/api/v1/search", token, search)
        rest.append((time.perf_counter() - started) * 1000)
    mcp = _mcp_search(base + "/mcp", token, runs)
    print(f"one call at a time, {runs} runs, median ms:")
    print(f"  REST POST /api/v1/search   {statistics.median(rest):>8.1f}")
    print(f"  MCP tools/call search      {statistics.median(mcp):>8.1f}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench web")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("names", nargs="*")
    args = parser.parse_args(argv)
    ingestion.setup()
    # One INFO line per MCP request would bury the report.
    for name in ("httpx2", "mcp"):
        logging.getLogger(name).setLevel(logging.WARNING)
    token = seed()
    print(f"\n== web ({args.requests} requests, {args.concurrency} at a time) ==")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average {load} on {os.cpu_count()} CPUs")
    print(
        f"{'command':<24} {'request':<24} {'req/s':>8} {'median ms':>10} {'p95 ms':>8}"
    )
    commands = (
        ("gthread, project.wsgi", previous_command),
        ("asgi, project.asgi", current_command),
    )
    for name, command in commands:
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        process = _serve(command(port), port)
        try:
            _measure(name, base, token, args.requests, args.concurrency)
            if command is current_command:
                _compare_search(base, token, max(20, args.requests // 10))
        finally:
            process.terminate()
            process.wait(timeout=30)
    return 0
