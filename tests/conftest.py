"""Shared fixtures: offline by default, the fake APIs on request, users and uploads."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client

from documents.api_auth import token_create
from documents.ingestion.pipeline import document_ingest
from documents.models import Document
from documents.remote import embeddings, files_api, multimodal, reranking
from documents.services import document_create, workspace_default_for_user
from tests.factories import make_user
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.voyage import FakeVoyage

pytest_plugins = ["tests.fakes.fixtures", "tests.webserver"]

BASE_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _offline(settings: Any, tmp_path: Any) -> Iterator[None]:
    """Every test starts offline, with its own media directory."""
    settings.ANTHROPIC_API_KEY = ""
    settings.ANTHROPIC_BASE_URL = None
    settings.VOYAGE_API_KEY = ""
    settings.VOYAGE_BASE_URL = None
    settings.API_MAX_RETRIES = 0
    settings.FILES_API_MAX_RETRIES = 2
    settings.EMBED_MAX_RETRIES = 2
    settings.EMBED_BACKOFF_S = 0.01
    # The shared limiter has its own tests; here it must not pace the suite.
    settings.FILES_API_RATE_PER_MINUTE = 100_000
    settings.FILES_API_BACKOFF_S = 0.01
    settings.FILES_API_BACKOFF_MAX_S = 0.5
    settings.MEDIA_ROOT = str(tmp_path / "media")
    cache.clear()
    yield
    embeddings.forget_clients()
    reranking.forget_clients()
    files_api.forget_clients()
    multimodal.forget_clients()


@pytest.fixture
def online(
    settings: Any, fake_anthropic: FakeAnthropic, fake_voyage: FakeVoyage, broker: str
) -> Any:
    """Point Cairn at the fake Anthropic and Voyage APIs, through the real SDKs.

    Files API calls pass the shared rate limiter in the tests' real Redis.
    """
    settings.ANTHROPIC_API_KEY = "test-key"
    settings.ANTHROPIC_BASE_URL = fake_anthropic.base_url
    settings.VOYAGE_API_KEY = "test-key"
    settings.VOYAGE_BASE_URL = fake_voyage.base_url
    return settings


@pytest.fixture
def user(db: None) -> Any:
    return make_user()


@pytest.fixture
def workspace(user: Any) -> Any:
    return workspace_default_for_user(user=user)


@pytest.fixture
def web(user: Any) -> Client:
    """A browser session logged in as `user`."""
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def api(user: Any) -> Client:
    """An API client sending `user`'s bearer token."""
    return Client(headers={"Authorization": f"Bearer {token_create(user=user)}"})


HANDBOOK = (
    "# Handbook\n\n"
    "## Vacation\n\n"
    "Employees get 25 days of paid vacation per year. "
    "Unused vacation days roll over until the end of March.\n\n"
    "## Expenses\n\n"
    "Submit expense reports within 30 days through the finance portal. "
    "Receipts over 50 euros must be attached.\n"
)


def upload(
    name: str, data: bytes, content_type: str = "application/octet-stream"
) -> Any:
    return SimpleUploadedFile(name, data, content_type=content_type)


def ingested(user: Any, name: str, data: bytes) -> Document:
    """Create a document for user and run the whole pipeline in this process."""
    workspace = workspace_default_for_user(user=user)
    created = document_create(
        workspace=workspace, uploader=user, upload=upload(name, data)
    )
    document_ingest(document_id=created.document.id)
    return Document.objects.get(id=created.document.id)


@pytest.fixture(scope="session")
def broker() -> Iterator[str]:
    """The tests' embedded Redis, started for the session unless already up."""
    from django.conf import settings

    from project import embedded

    if not settings.EMBEDDED_BROKER:
        yield settings.CELERY_BROKER_URL
        return
    started = embedded.start_redis(settings.VAR_DIR)
    yield settings.CELERY_BROKER_URL
    if started:
        embedded.stop_redis(settings.VAR_DIR)


def database_url() -> str:
    """The URL of the test database this session created."""
    db = connection.settings_dict
    options = db.get("OPTIONS") or {}
    host = db.get("HOST") or options.get("host") or "localhost"
    port = db.get("PORT") or options.get("port") or 5432
    auth = f"{db['USER']}:{db.get('PASSWORD') or ''}"
    if host.startswith("/"):
        return f"postgresql://{auth}@/{db['NAME']}?host={host}&port={port}"
    return f"postgresql://{auth}@{host}:{port}/{db['NAME']}"


def wait_for_sessions_to_close(timeout: float = 10.0) -> None:
    """Wait until a stopped worker's database sessions are gone.

    The server ends a backend a moment after its client exits; dropping the test
    database before then fails with "being accessed by other users".
    """
    import time

    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend' AND state <> 'active'"
            )
            row = cursor.fetchone()
            if row is None or row[0] == 0:
                return
            time.sleep(0.1)


def service_env(media_root: str, broker: str) -> dict[str, str]:
    """The environment of a Cairn process on the test database and broker, offline."""
    return {
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker,
        "CAIRN_VAR_DIR": str(django_settings.VAR_DIR),
        "MEDIA_ROOT": media_root,
        "CAIRN_SKIP_DOTENV": "1",
        "ANTHROPIC_API_KEY": "",
        "VOYAGE_API_KEY": "",
    }


def start_worker(
    settings: Any,
    broker: str,
    *,
    env: dict[str, str] | None = None,
    prefork: bool = False,
) -> subprocess.Popen[bytes]:
    """Start a `celery worker` subprocess on the test database and broker."""
    full_env = os.environ | service_env(str(settings.MEDIA_ROOT), broker) | (env or {})
    pool = (
        ["--pool", "prefork", "--concurrency", "1"] if prefork else ["--pool", "solo"]
    )
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "project", "worker", *pool,
         "--loglevel", "WARNING", "--without-mingle", "--without-gossip",
         "--queues", django_settings.CELERY_QUEUES_ALL],
        cwd=BASE_DIR,
        env=full_env,
    )  # fmt: skip


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    """Stop a worker started by start_worker and wait for its sessions to end."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    wait_for_sessions_to_close()


@pytest.fixture
def worker(transactional_db: None, broker: str, settings: Any) -> Iterator[Any]:
    """A `celery worker` subprocess on the test database and broker."""
    process = start_worker(settings, broker)
    try:
        yield process
    finally:
        stop_worker(process)


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def page(live_server: Any) -> Iterator[Any]:
    """A headless Chromium page (Debian's binary, driven by Playwright)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(
            "browser tests need Debian's chromium: run scripts/install-chromium"
        )
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop; the ORM calls the test makes
    # around it are still synchronous and single-threaded.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        context = browser.new_context(base_url=live_server.url)
        tab = context.new_page()
        tab.set_default_timeout(30_000)
        try:
            yield tab
        finally:
            context.close()
            browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture(scope="session", autouse=True)
def _end_stray_sessions(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """End connections that threads or worker processes left open, at session end.

    Dropping the test database fails while any other session is connected, and
    the next run then starts by cleaning up after this one.
    """
    yield
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
