"""The Files API reconcile: report orphans and missing files, then fix them."""

from __future__ import annotations

from typing import Any

from django.test import Client

from documents import files_api
from documents.models import Document
from documents.reconcile import files_fix, files_report
from tests.conftest import HANDBOOK, ingested
from tests.factories import make_user
from tests.fakes.anthropic import FakeAnthropic


def test_it_finds_and_fixes_orphans_and_missing_files(
    online: Any, user: Any, fake_anthropic: FakeAnthropic, settings: Any
) -> None:
    settings.FILES_ORPHAN_GRACE_MINUTES = 0
    kept = ingested(user, "handbook.md", HANDBOOK.encode())
    lost = ingested(user, "notes.md", b"# Notes\n\nSome notes to keep.\n")
    orphan = files_api.upload(
        original_name="stray.md", data=b"stray", mime_type="text/markdown"
    )
    files_api.delete(lost.file_id)

    report = files_report()
    assert report.remote == 2 and report.linked == 2
    assert [file_id for file_id, _, _ in report.orphans] == [orphan]
    assert [d.id for d in report.missing] == [lost.id]

    deleted, requeued = files_fix(report)
    assert (deleted, requeued) == (1, 1)
    assert orphan not in fake_anthropic.files
    assert kept.file_id in fake_anthropic.files
    lost.refresh_from_db()
    assert lost.file_id == "" and lost.status == Document.Status.QUEUED
    assert files_report().clean


def test_young_orphans_are_left_alone(
    online: Any, user: Any, fake_anthropic: FakeAnthropic, settings: Any
) -> None:
    settings.FILES_ORPHAN_GRACE_MINUTES = 60
    orphan = files_api.upload(
        original_name="stray.md", data=b"stray", mime_type="text/markdown"
    )
    report = files_report()
    assert report.orphans == [] and report.recent_orphans == 1
    files_fix(report)
    assert orphan in fake_anthropic.files


def test_the_reconcile_page_reports_and_fixes(
    online: Any, user: Any, fake_anthropic: FakeAnthropic, settings: Any
) -> None:
    settings.FILES_ORPHAN_GRACE_MINUTES = 0
    orphan = files_api.upload(
        original_name="stray.md", data=b"stray", mime_type="text/markdown"
    )
    staff = Client()
    staff.force_login(make_user(is_staff=True, is_superuser=True))
    page = staff.get("/admin/cairn/files/").content.decode()
    assert orphan in page and 'id="fix"' in page
    staff.post("/admin/cairn/files/")
    assert orphan not in fake_anthropic.files
    assert "Everything matches." in staff.get("/admin/cairn/files/").content.decode()
