"""CLAUDE_MODEL against the Models API: health page, banner, start-up check."""

from __future__ import annotations

import logging
import typing
from typing import Any

import anthropic
import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client

from search import claude
from tests.factories import make_user
from tests.fakes.anthropic import FakeAnthropic


@pytest.fixture
def staff(db: None) -> Client:
    client = Client()
    client.force_login(make_user(is_staff=True, is_superuser=True))
    return client


def _model_lists(fake: FakeAnthropic) -> int:
    return sum(1 for r in fake.requests if r.path == "/v1/models")


def test_the_default_model_is_current_in_the_sdk_and_the_api(
    online: Any, fake_anthropic: FakeAnthropic
) -> None:
    known = typing.get_args(typing.get_args(anthropic.types.Model)[0])
    assert django_settings.CLAUDE_MODEL == "claude-sonnet-5-5"
    assert "claude-sonnet-5-5" in known
    assert claude.model_status().lifecycle == "active"


def test_the_health_page_shows_lifecycle_and_retirement(
    online: Any, staff: Client, fake_anthropic: FakeAnthropic
) -> None:
    online.CLAUDE_MODEL = "claude-opus-4-5"

    page = staff.get("/admin/cairn/health/").content.decode()
    staff.get("/admin/cairn/health/")

    assert '<strong data-role="lifecycle">deprecated</strong>' in page
    assert '<span data-role="retires">retires 2027-01-22</span>' in page
    assert "claude-opus-4-5 is deprecated and retires on 2027-01-22" in page
    assert _model_lists(fake_anthropic) == 1, "models.list is cached"


def test_a_deprecated_model_puts_a_banner_before_staff_only(
    online: Any, staff: Client, web: Client
) -> None:
    online.CLAUDE_MODEL = "claude-opus-4-5"

    admin_index = staff.get("/admin/").content.decode()
    documents_page = staff.get("/documents/").content.decode()
    member_page = web.get("/documents/").content.decode()

    for page in (admin_index, documents_page):
        assert 'id="model-banner"' in page
        assert "claude-opus-4-5 is deprecated" in page
    assert 'id="model-banner"' not in member_page


def test_an_active_model_has_no_banner(online: Any, staff: Client) -> None:
    assert 'id="model-banner"' not in staff.get("/admin/").content.decode()


def test_start_up_refuses_a_retired_model(online: Any) -> None:
    online.CLAUDE_MODEL = "claude-sonnet-4-5"

    with pytest.raises(SystemCheckError) as caught:
        call_command("check")

    message = str(caught.value)
    assert "search.E001" in message
    assert "claude-sonnet-4-5 was retired on 2026-11-30" in message


def test_start_up_refuses_an_unknown_model(online: Any) -> None:
    online.CLAUDE_MODEL = "claude-sonnet-9-9"

    with pytest.raises(SystemCheckError, match="not a model the Anthropic API knows"):
        call_command("check")


def test_start_up_warns_about_a_deprecated_model(
    online: Any, caplog: pytest.LogCaptureFixture
) -> None:
    online.CLAUDE_MODEL = "claude-opus-4-5"

    with caplog.at_level(logging.WARNING, logger="search.checks"):
        call_command("check")

    assert "claude-opus-4-5 is deprecated and retires on 2027-01-22" in caplog.text


def test_offline_the_model_is_not_checked(db: None, settings: Any) -> None:
    settings.CLAUDE_MODEL = "claude-sonnet-4-5"

    call_command("check")


def test_an_unreachable_models_api_only_warns(
    online: Any, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.fail_next(529, "overloaded_error", "Overloaded", path_prefix="/v1/m")

    status = claude.model_status()

    assert status.lifecycle == "unchecked" and status.usable
    assert "Overloaded" in status.error
