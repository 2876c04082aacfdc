"""Files that expire (FILES_API_EXPIRES_IN_S): stored, shown, re-uploaded."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO
from typing import Any

from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from documents.models import Document, RemoteFileTombstone
from documents.remote.files import documents_refresh_expiring, files_reconcile
from tests.conftest import HANDBOOK, ingested
from tests.fakes.anthropic import FakeAnthropic

OTHER = "# Travel\n\nBook flights two weeks ahead of the trip.\n"


def _messages(fake: FakeAnthropic) -> list[Any]:
    return [r for r in fake.requests if r.method == "POST" and r.path == "/v1/messages"]


def test_uploads_ask_for_the_configured_lifetime_and_store_the_expiry(
    online: Any, user: Any, web: Client, fake_anthropic: FakeAnthropic
) -> None:
    online.FILES_API_EXPIRES_IN_S = 86_400
    document = ingested(user, "handbook.md", HANDBOOK.encode())

    (upload,) = [r for r in fake_anthropic.requests if r.path == "/v1/files"]
    assert upload.body["fields"] == {"expires_in_seconds": "86400"}
    assert document.expires_at is not None
    left = (document.expires_at - timezone.now()).total_seconds()
    assert 86_000 < left <= 86_400
    page = web.get(f"/documents/{document.id}/").content.decode()
    assert 'data-role="expires"' in page
    assert document.expires_at.strftime("%Y-%m-%d %H:%M") in page


def test_without_a_lifetime_nothing_expires(
    online: Any, user: Any, fake_anthropic: FakeAnthropic
) -> None:
    document = ingested(user, "handbook.md", HANDBOOK.encode())

    (upload,) = [r for r in fake_anthropic.requests if r.path == "/v1/files"]
    assert upload.body["fields"] == {}
    assert document.expires_at is None


def test_a_file_expired_at_question_time_is_reuploaded_once_and_answers(
    online: Any, user: Any, api: Client, fake_anthropic: FakeAnthropic
) -> None:
    # The bug: the 404 `file_expired` escaped as an HTTP 500, because the
    # re-upload check asked whether the file exists, and its metadata does.
    online.FILES_API_EXPIRES_IN_S = 3600
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    old = document.file_id
    fake_anthropic.expire(old)

    response = api.post(
        "/api/v1/ask",
        json.dumps({"question": "How many vacation days?"}),
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["mode"] == "claude"
    assert body["citations"]
    document.refresh_from_db()
    assert document.file_id and document.file_id != old
    assert document.expires_at is not None
    assert document.expires_at > timezone.now() + timedelta(minutes=59)
    sent = _messages(fake_anthropic)
    assert len(sent) == 2
    files_sent = [
        block["source"]["file_id"]
        for request in sent
        for block in request.body["messages"][-1]["content"]
        if block["type"] == "document"
    ]
    assert files_sent == [old, document.file_id]
    uploads = [r for r in fake_anthropic.requests if r.path == "/v1/files"]
    assert len(uploads) == 2, "uploaded once at ingest, once again"
    assert RemoteFileTombstone.objects.filter(file_id=old).exists()


def test_a_stored_expiry_that_has_passed_reuploads_before_asking(
    online: Any, user: Any, api: Client, fake_anthropic: FakeAnthropic
) -> None:
    online.FILES_API_EXPIRES_IN_S = 3600
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    old = document.file_id
    fake_anthropic.expire(old)
    Document.objects.filter(id=document.id).update(expires_at=timezone.now())

    response = api.post(
        "/api/v1/ask",
        json.dumps({"question": "How many vacation days?"}),
        content_type="application/json",
    )

    assert response.status_code == 200
    (request,) = _messages(fake_anthropic)
    document.refresh_from_db()
    (block,) = [
        b for b in request.body["messages"][-1]["content"] if b["type"] == "document"
    ]
    assert block["source"]["file_id"] == document.file_id != old


def test_reconcile_tells_expired_files_from_missing_ones(
    online: Any, user: Any, fake_anthropic: FakeAnthropic
) -> None:
    online.FILES_API_EXPIRES_IN_S = 3600
    expired = ingested(user, "handbook.md", HANDBOOK.encode())
    missing = ingested(user, "travel.md", OTHER.encode())
    fake_anthropic.expire(expired.file_id)
    del fake_anthropic.files[missing.file_id]

    report = files_reconcile()
    out = StringIO()
    call_command("files_reconcile", stdout=out)

    assert report.expired == [str(expired.id)]
    assert report.missing == [str(missing.id)]
    lines = out.getvalue().splitlines()
    assert f"expired {expired.id}" in lines
    assert f"missing {missing.id}" in lines
    assert "1 documents missing their remote file, 1 with an expired one" in lines[-1]
    old = expired.file_id
    fixed = files_reconcile(fix=True)
    assert fixed.reuploaded == 2
    expired.refresh_from_db()
    assert (
        expired.file_id != old and not fake_anthropic.files[expired.file_id].expired()
    )
    assert RemoteFileTombstone.objects.filter(file_id=old).exists()
    again = files_reconcile()
    assert (again.missing, again.expired) == ([], [])


def test_the_staff_reconcile_page_lists_expired_files(
    online: Any, user: Any, fake_anthropic: FakeAnthropic
) -> None:
    from tests.factories import make_user

    online.FILES_API_EXPIRES_IN_S = 3600
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    fake_anthropic.expire(document.file_id)
    staff = Client()
    staff.force_login(make_user(is_staff=True, is_superuser=True))

    page = staff.get("/admin/cairn/files/").content.decode()

    assert 'id="expired"' in page
    assert document.file_id in page.split('id="expired"')[1]


def test_files_expiring_within_a_day_are_refreshed(
    online: Any, user: Any, fake_anthropic: FakeAnthropic
) -> None:
    online.FILES_API_EXPIRES_IN_S = 3600
    soon = ingested(user, "handbook.md", HANDBOOK.encode())
    online.FILES_API_EXPIRES_IN_S = 7 * 86_400
    later = ingested(user, "travel.md", OTHER.encode())
    old_soon, old_later = soon.file_id, later.file_id

    assert documents_refresh_expiring(within=timedelta(days=1)) == 1

    soon.refresh_from_db()
    later.refresh_from_db()
    assert soon.file_id != old_soon
    assert soon.expires_at is not None
    assert soon.expires_at > timezone.now() + timedelta(days=6)
    assert later.file_id == old_later
    assert RemoteFileTombstone.objects.filter(file_id=old_soon).exists()
