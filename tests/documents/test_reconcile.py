"""The Files API reconcile page in the admin console."""

from __future__ import annotations

from typing import Any

from django.test import Client

from documents.remote import files_api
from tests.factories import make_user
from tests.fakes.anthropic import FakeAnthropic


def test_the_reconcile_page_reports_and_fixes(
    online: Any, user: Any, fake_anthropic: FakeAnthropic, settings: Any
) -> None:
    settings.FILES_ORPHAN_GRACE_MINUTES = 0
    orphan = files_api.upload(
        original_name="stray.md", data=b"stray", mime_type="text/markdown"
    ).id
    staff = Client()
    staff.force_login(make_user(is_staff=True, is_superuser=True))
    page = staff.get("/admin/cairn/files/").content.decode()
    assert orphan in page and 'id="fix"' in page
    staff.post("/admin/cairn/files/")
    assert orphan not in fake_anthropic.files
    assert "Everything matches." in staff.get("/admin/cairn/files/").content.decode()
