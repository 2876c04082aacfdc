"""Pytest fixtures for the fake APIs: pytest_plugins = ["tests.fakes.fixtures"].

The servers start once per session; the function-scoped fixtures reset them (files,
cache, recorded requests, scheduled failures and every tunable) before each test.
"""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import pytest
from voyageai.client import Client as VoyageClient

from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.voyage import FakeVoyage

TEST_API_KEY = "test-key"


@pytest.fixture(scope="session")
def fake_anthropic_server() -> Iterator[FakeAnthropic]:
    """Start the fake Anthropic API once for the session (not reset between tests)."""
    fake = FakeAnthropic()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def fake_voyage_server() -> Iterator[FakeVoyage]:
    """Start the fake Voyage API once for the session (not reset between tests)."""
    fake = FakeVoyage()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_anthropic(fake_anthropic_server: FakeAnthropic) -> Iterator[FakeAnthropic]:
    """Give a freshly reset fake Anthropic API."""
    fake_anthropic_server.reset()
    yield fake_anthropic_server
    fake_anthropic_server.reset()


@pytest.fixture
def fake_voyage(fake_voyage_server: FakeVoyage) -> Iterator[FakeVoyage]:
    """Give a freshly reset fake Voyage API."""
    fake_voyage_server.reset()
    yield fake_voyage_server
    fake_voyage_server.reset()


@pytest.fixture
def anthropic_client(fake_anthropic: FakeAnthropic) -> Iterator[anthropic.Anthropic]:
    """Give a real Anthropic SDK client pointed at the fake, without retries."""
    client = anthropic.Anthropic(
        api_key=TEST_API_KEY, base_url=fake_anthropic.base_url, max_retries=0
    )
    yield client
    client.close()


@pytest.fixture
def voyage_client(fake_voyage: FakeVoyage) -> VoyageClient:
    """Give a real Voyage SDK client pointed at the fake, without retries."""
    return VoyageClient(
        api_key=TEST_API_KEY, base_url=fake_voyage.base_url, max_retries=0
    )
