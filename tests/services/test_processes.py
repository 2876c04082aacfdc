"""Each tier on its own: two workers on separate queues and a web process.

`python -m project.run --role worker-cpu`, `--role worker-io` and `--role web`
run against the standard servers as a deployment would run them (no embedded
service, no migration), share only the database, the broker and MEDIA_ROOT,
and ingest FinanceBench filings uploaded through the REST API, then answer a
question about them with citations (offline mode).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from documents.api_auth import token_create
from tests.conftest import BASE_DIR, database_url, wait_for_sessions_to_close
from tests.factories import make_user
from tests.pdfs import make_pdf

pytestmark = pytest.mark.services
# One line per poll would bury a failure's report.
logging.getLogger("httpx").setLevel(logging.WARNING)

SAMPLE = BASE_DIR.parent / "shared" / "data" / "financebench-sample" / "pdfs"
# Three of the six filings, the smallest (1-20 pages), and a sample question
# whose evidence is page 12 (1-based) of Amcor's earnings release.
FILINGS = (
    "AMCOR_2023Q4_EARNINGS.pdf",
    "JOHNSON_JOHNSON_2023_8K_dated-2023-08-30.pdf",
    "ULTABEAUTY_2023Q4_EARNINGS.pdf",
)
QUESTION = "What Was AMCOR's Adjusted Non GAAP EBITDA for FY 2023"
# Without the shared data (a fresh CI machine may lack it) the same flow runs on
# generated filings.
GENERATED = {
    "harbor-8k.pdf": [
        ["Harbor Industries Form 8-K", "Item 2.01 Completion of Disposition"],
        [
            "Harbor Industries completed the exchange offer for Keelson shares.",
            "The Marine Coatings segment will be treated as a discontinued",
            "operation from September 1 onward.",
        ],
    ],
    "lantern-earnings.pdf": [
        ["Lantern Retail fourth quarter results"],
        ["Net sales grew 9 percent to 3.1 billion dollars in the quarter."],
    ],
}
GENERATED_QUESTION = (
    "Which segment of Harbor Industries will be treated as a discontinued operation?"
)


@dataclass
class Case:
    files: list[tuple[str, bytes]]
    question: str
    answer_file: str
    answer_page: int
    answer_words: str


def _case() -> Case:
    """The files to upload, the question and where its answer is."""
    if all((SAMPLE / name).is_file() for name in FILINGS):
        files = [(name, (SAMPLE / name).read_bytes()) for name in FILINGS]
        return Case(files, QUESTION, FILINGS[0], 12, "Adjusted EBITDA")
    files = [(name, make_pdf(pages)) for name, pages in GENERATED.items()]
    return Case(files, GENERATED_QUESTION, "harbor-8k.pdf", 2, "Marine Coatings")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Tiers:
    """The three tier processes, each in a process group of its own."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, role: str) -> None:
        with open(self.logs / f"{role}.log", "wb") as log:
            self.processes[role] = subprocess.Popen(
                [sys.executable, "-m", "project.run", "--role", role],
                cwd=BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self, role: str) -> str:
        return (self.logs / f"{role}.log").read_text(errors="replace")

    def check_alive(self) -> None:
        for role, process in self.processes.items():
            assert process.poll() is None, f"{role} exited:\n{self.log(role)[-3000:]}"

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            # Pool processes and gunicorn workers share the tier's group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture
def tiers(
    transactional_db: None, broker: str, settings: Any, tmp_path: Path
) -> Iterator[Tiers]:
    var = tmp_path / "var"
    var.mkdir()
    port = _free_port()
    env = os.environ | {
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker,
        "MEDIA_ROOT": str(tmp_path / "media"),
        "CAIRN_VAR_DIR": str(var),
        "CAIRN_SKIP_DOTENV": "1",
        "SECRET_KEY": "services-suite-" + "k" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "WORKER_CONCURRENCY": "1",
        "ANTHROPIC_API_KEY": "",
        "VOYAGE_API_KEY": "",
        "LOG_LEVEL": "INFO",
    }
    running = Tiers(env, tmp_path)
    running.env["CAIRN_TEST_WEB_URL"] = f"http://127.0.0.1:{port}"
    try:
        for role in ("worker-cpu", "worker-io", "web"):
            running.start(role)
        yield running
    finally:
        running.stop()
        wait_for_sessions_to_close()


def _wait(what: str, timeout: float, tiers: Tiers, probe: Any) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        tiers.check_alive()
        last = probe()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")


@pytest.mark.worker
def test_two_workers_and_a_web_process_ingest_and_answer_with_citations(
    tiers: Tiers,
) -> None:
    base = tiers.env["CAIRN_TEST_WEB_URL"]
    user = make_user()
    headers = {"Authorization": f"Bearer {token_create(user=user)}"}
    client = httpx.Client(base_url=base, headers=headers, timeout=60)

    def healthy() -> Any:
        try:
            body = client.get("/healthz").json()
        except (httpx.HTTPError, ValueError):
            return None
        return body if body.get("workers") == 2 else None

    health = _wait("the web tier and both workers", 180, tiers, healthy)
    assert health["database"] == "ok" and health["broker"] == "ok"

    case = _case()
    ids: dict[str, str] = {}
    for name, data in case.files:
        response = client.post(
            "/api/v1/documents", files={"file": (name, data, "application/pdf")}
        )
        assert response.status_code == 201, response.text
        ids[response.json()["id"]] = name

    def all_ready() -> Any:
        documents = [client.get(f"/api/v1/documents/{id_}").json() for id_ in ids]
        failed = [d for d in documents if d["status"] == "failed"]
        assert not failed, failed
        return documents if all(d["status"] == "ready" for d in documents) else None

    documents = _wait("every document ready", 420, tiers, all_ready)
    assert all(d["pages"] and d["chunk_count"] for d in documents), documents

    # Each stage ran on its own tier: extraction on ingest_cpu, the rest on ingest_io.
    cpu, io = tiers.log("worker-cpu"), tiers.log("worker-io")
    assert "documents.tasks.ingest_task[" in cpu
    assert "documents.tasks.ingest_index_task[" not in cpu
    assert "documents.tasks.ingest_index_task[" in io
    assert "documents.tasks.ingest_task[" not in io

    response = client.post("/api/v1/ask", json={"question": case.question})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["mode"] == "offline"
    citations = answer["citations"]
    assert citations, answer
    assert {c["document_id"] for c in citations} <= set(ids)
    assert ids[citations[0]["document_id"]] == case.answer_file, answer
    assert case.answer_page in {c["start_page"] for c in citations}, citations
    assert case.answer_words in answer["answer"], answer["answer"]
    for citation in citations:
        assert citation["cited_text"].strip()
        text = client.get(f"/api/v1/documents/{citation['document_id']}/text").text
        cited = text[citation["start_char"] : citation["end_char"]]
        assert " ".join(cited.split()) == " ".join(citation["cited_text"].split())
