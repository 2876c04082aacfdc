"""/metrics: who may scrape it, and counters moved by real ingestion and answers."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import anthropic
import httpx2 as httpx  # the HTTP client package anthropic's errors take
import pytest
import voyageai.error
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from documents.models import Document
from documents.remote.errors import error_kind
from documents.remote.ratelimit import RateLimiter
from project.run import fresh_metrics_dir, metrics_dir
from search.models import Answer
from tests.conftest import HANDBOOK, ingested, start_worker, stop_worker
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.voyage import FakeVoyage
from tests.pdfs import make_pdf

TOKEN = "metrics-test-token"
PAGES = [
    ["Annual report of the Example Widget Company."],
    ["Our headquarters moved to Lisbon during the year."],
    ["The warranty on every widget lasts five years from delivery."],
]
STAGES = ("extract", "chunk", "upload", "embed", "store")

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def token(settings: Any) -> str:
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = []
    return TOKEN


def scrape(client: Client | None = None) -> Samples:
    response = (client or Client()).get(
        "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            samples[key] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def _ask(api: Client, question: str) -> Any:
    response = api.post(
        "/api/v1/ask", json.dumps({"question": question}), "application/json"
    )
    assert response.status_code == 200, response.content
    return response.json()


# Who may scrape --------------------------------------------------------------


def test_it_is_not_found_while_neither_token_nor_allowlist_is_set(
    db: None, settings: Any
) -> None:
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = []
    assert Client().get("/metrics").status_code == 404


def test_it_refuses_a_scrape_without_the_token(db: None, token: str) -> None:
    client = Client()
    assert client.get("/metrics").status_code == 403
    wrong = {"Authorization": "Bearer not-the-token"}
    assert client.get("/metrics", headers=wrong).status_code == 403
    basic = {"Authorization": f"Basic {TOKEN}"}
    assert client.get("/metrics", headers=basic).status_code == 403
    right = {"Authorization": f"Bearer {TOKEN}"}
    response = client.get("/metrics", headers=right)
    assert response.status_code == 200
    assert b"cairn_documents" in response.content
    assert client.post("/metrics", headers=right).status_code == 405


def test_an_allowed_network_scrapes_without_a_token(db: None, settings: Any) -> None:
    import ipaddress

    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = [ipaddress.ip_network("10.20.0.0/16")]
    assert Client(REMOTE_ADDR="10.20.3.4").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="::ffff:10.20.3.4").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="10.21.0.1").get("/metrics").status_code == 403
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 403


# Counters that move --------------------------------------------------------


def test_an_ingestion_and_an_answer_move_the_counters(
    token: str, user: Any, api: Client, broker: str
) -> None:
    before = scrape()
    report = ingested(user, "report.pdf", make_pdf(PAGES))
    assert report.status == Document.Status.READY
    chunks = report.chunks.count()
    assert chunks > 0
    _ask(api, "How long does the widget warranty last?")
    after = scrape()

    assert moved(before, after, "cairn_ingest_pages_total") == 3
    assert moved(before, after, "cairn_ingest_chunks_total") == chunks
    assert moved(before, after, "cairn_ingest_documents_total", result="ready") == 1
    for stage in STAGES:
        assert (
            moved(before, after, "cairn_ingest_stage_seconds_count", stage=stage) == 1
        )
        assert value(after, "cairn_ingest_stage_seconds_sum", stage=stage) > 0
    assert moved(before, after, "cairn_search_seconds_count") >= 1
    assert moved(before, after, "cairn_answer_seconds_count", mode="offline") == 1
    # Offline: nothing was called outside.
    assert moved(before, after, "cairn_api_calls_total", api="messages") == 0

    # Read at scrape time, from the database and the broker.
    assert value(after, "cairn_documents", status="ready") == 1
    assert value(after, "cairn_documents", status="failed") == 0
    assert value(after, "cairn_up", part="database") == 1
    assert value(after, "cairn_up", part="broker") == 1
    for queue in ("celery", "ingest_cpu", "ingest_io"):
        assert ("cairn_queue_messages", (("queue", queue), ("state", "waiting"))) in (
            after
        )


def test_a_failed_ingestion_counts_as_failed(token: str, user: Any) -> None:
    before = scrape()
    broken = ingested(user, "broken.pdf", make_pdf([["x"]])[:150])
    assert broken.status == Document.Status.FAILED
    after = scrape()
    assert moved(before, after, "cairn_ingest_documents_total", result="failed") == 1
    assert moved(before, after, "cairn_ingest_pages_total") == 0
    assert value(after, "cairn_documents", status="failed") == 1


def test_documents_by_workspace_when_asked(
    token: str, user: Any, settings: Any
) -> None:
    settings.METRICS_PER_WORKSPACE = True
    handbook = ingested(user, "handbook.md", HANDBOOK.encode())
    after = scrape()
    code = str(handbook.workspace.code)
    assert value(after, "cairn_documents", status="ready", workspace=code) == 1


def test_outside_calls_errors_and_tokens_are_counted(
    token: str,
    online: Any,
    user: Any,
    api: Client,
    fake_anthropic: FakeAnthropic,
    fake_voyage: FakeVoyage,
) -> None:
    fake_voyage.fail_next(
        429, "rate_limit", "Too many requests", path_prefix="/v1/embeddings"
    )
    fake_anthropic.fail_next(503, "api_error", "Down", path_prefix="/v1/files")
    before = scrape()
    handbook = ingested(user, "handbook.md", HANDBOOK.encode())
    assert handbook.status == Document.Status.READY
    body = _ask(api, "How many vacation days do employees get?")
    after = scrape()

    # Each attempt is a call; the failed ones are counted by kind.
    assert moved(before, after, "cairn_api_calls_total", api="voyage_embed") >= 2
    errors = "cairn_api_errors_total"
    assert moved(before, after, errors, api="voyage_embed", kind="rate_limit") == 1
    assert moved(before, after, "cairn_api_calls_total", api="files_api") >= 2
    assert moved(before, after, errors, api="files_api", kind="server") == 1
    assert moved(before, after, "cairn_api_calls_total", api="messages") == 1
    assert moved(before, after, errors, api="messages", kind="server") == 0
    assert moved(before, after, "cairn_api_call_seconds_count", api="messages") == 1
    assert moved(before, after, "cairn_answer_seconds_count", mode="claude") == 1

    answer = Answer.objects.get(code=body["id"])
    assert answer.input_tokens > 0 and answer.output_tokens > 0
    tokens = "cairn_answer_tokens_total"
    model = answer.model
    assert moved(before, after, tokens, model=model, kind="input") == (
        answer.input_tokens
    )
    assert moved(before, after, tokens, model=model, kind="output") == (
        answer.output_tokens
    )
    assert moved(before, after, tokens, model=model, kind="cache_read") == (
        answer.cache_read_tokens
    )
    assert moved(before, after, tokens, model=model, kind="cache_write") == (
        answer.cache_write_tokens
    )


def test_rate_limit_waits_are_observed(token: str, db: None, broker: str) -> None:
    limiter = RateLimiter(f"metrics-{time.time_ns()}", 1, window_ms=300)
    before = scrape()
    limiter.acquire()
    limiter.acquire()  # waits for the first slot to age out
    after = scrape()
    name = "cairn_rate_limit_wait_seconds"
    assert moved(before, after, f"{name}_count", limiter=limiter.name) >= 1
    assert moved(before, after, f"{name}_sum", limiter=limiter.name) > 0


# voyageai's errors are untyped.
voyage: Any = voyageai.error


def _status_error(status: int) -> anthropic.APIStatusError:
    request = httpx.Request("POST", "https://api.example/v1/files")
    response = httpx.Response(status, request=request, json={"error": {}})
    return anthropic.APIStatusError("refused", response=response, body=None)


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (_status_error(429), "rate_limit"),
        (_status_error(529), "server"),
        (_status_error(500), "server"),
        (_status_error(504), "timeout"),
        (_status_error(400), "client"),
        (_status_error(404), "client"),
        (anthropic.APITimeoutError(httpx.Request("GET", "https://x")), "timeout"),
        (
            anthropic.APIConnectionError(request=httpx.Request("GET", "https://x")),
            ("connection"),
        ),
        (voyage.RateLimitError("slow down"), "rate_limit"),
        (voyage.ServiceUnavailableError("down"), "server"),
        (voyage.Timeout("late"), "timeout"),
        (voyage.InvalidRequestError("bad"), "client"),
        (TimeoutError("no slot"), "other"),
    ],
)
def test_outside_errors_are_named_by_kind(exc: BaseException, kind: str) -> None:
    assert error_kind(exc) == kind


# Several processes ---------------------------------------------------------


@pytest.mark.worker
def test_a_worker_processes_counters_reach_the_web_scrape(
    transactional_db: None,
    broker: str,
    settings: Any,
    token: str,
    api: Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A prefork worker writes its files; the web process adds them up."""
    root = tmp_path / "metrics"
    settings.METRICS_DIR = root
    worker_dir = fresh_metrics_dir(root / "worker-cpu-test")
    web_dir = fresh_metrics_dir(root / "web-test")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(web_dir))
    process = start_worker(
        settings,
        broker,
        env={"PROMETHEUS_MULTIPROC_DIR": str(worker_dir)},
        prefork=True,
    )
    try:
        before = scrape(api)
        handle = io.BytesIO(make_pdf([["Page one."], ["Revenue grew 10 percent."]]))
        handle.name = "report.pdf"
        response = api.post("/api/v1/documents", {"file": handle})
        assert response.status_code == 201
        document_id = response.json()["id"]
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            document = Document.objects.get(id=document_id)
            if document.status in ("ready", "failed"):
                break
            time.sleep(0.2)
        assert document.status == "ready", document.error
        after = scrape(api)
    finally:
        stop_worker(process)

    assert list(worker_dir.glob("*.db")), "the worker wrote no metric files"
    assert moved(before, after, "cairn_ingest_pages_total") == 2
    assert moved(before, after, "cairn_ingest_chunks_total") == document.chunks.count()
    for stage in STAGES:
        assert (
            moved(before, after, "cairn_ingest_stage_seconds_count", stage=stage) == 1
        )
    assert value(after, "cairn_documents", status="ready") == 1


def test_each_run_starts_its_metric_files_afresh(tmp_path: Path) -> None:
    folder = tmp_path / "metrics" / "web-host"
    folder.mkdir(parents=True)
    (folder / "counter_123.db").write_bytes(b"old")
    (folder / "notes.txt").write_text("kept")
    fresh_metrics_dir(folder)
    assert not (folder / "counter_123.db").exists()
    assert (folder / "notes.txt").exists()
    assert metrics_dir({"CAIRN_VAR_DIR": str(tmp_path)}) == tmp_path / "metrics"
    assert metrics_dir({"METRICS_DIR": str(folder)}) == folder
