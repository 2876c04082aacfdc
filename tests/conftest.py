"""Shared fixtures: offline by default, the fake APIs on request, users and uploads."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from documents import embeddings, files_api
from documents.api_auth import token_create
from documents.models import Document
from documents.services import (
    document_create,
    document_ingest,
    workspace_default_for_user,
)
from tests.factories import make_user
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.voyage import FakeVoyage

pytest_plugins = ["tests.fakes.fixtures"]


@pytest.fixture(autouse=True)
def _offline(settings: Any, tmp_path: Any) -> Iterator[None]:
    """Every test starts offline, with its own media directory."""
    settings.ANTHROPIC_API_KEY = ""
    settings.ANTHROPIC_BASE_URL = None
    settings.VOYAGE_API_KEY = ""
    settings.VOYAGE_BASE_URL = None
    settings.API_MAX_RETRIES = 0
    settings.MEDIA_ROOT = str(tmp_path / "media")
    yield
    embeddings._cached_embedder.cache_clear()
    files_api._client.cache_clear()


@pytest.fixture
def online(
    settings: Any, fake_anthropic: FakeAnthropic, fake_voyage: FakeVoyage
) -> Any:
    """Point Cairn at the fake Anthropic and Voyage APIs, through the real SDKs."""
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
