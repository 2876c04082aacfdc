"""Files API lifecycle: names, error mapping, tombstones, reconcile, 404s."""

from __future__ import annotations

import time
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from documents.models import Document, RemoteFileTombstone
from documents.remote import errors, files_api
from documents.remote.files import (
    PAUSED_NOTE,
    files_api_pause,
    files_reconcile,
    tombstones_drain,
)
from documents.services import document_delete
from search.answering import answer_question
from search.retrieval import chunk_search
from tests.conftest import HANDBOOK, ingested
from tests.fakes.anthropic import FORBIDDEN_FILENAME_CHARS, FakeAnthropic

OTHER = "# Travel\n\nBook flights two weeks ahead of the trip.\n"


@pytest.mark.parametrize(
    ("original", "as_text", "expected"),
    [
        ("report.pdf", False, "report.pdf"),
        ('a<b>c:d"e|f?g*h.md', True, "a_b_c_d_e_f_g_h.txt"),
        ("..\\..\\etc/passwd", True, "passwd.txt"),
        ("tab\there\x01.pdf", False, "tab_here_.pdf"),
        ("...", True, "document.txt"),
        ("x" * 400 + ".pdf", False, "x" * 251 + ".pdf"),
    ],
)
def test_remote_names_follow_the_api_rules(
    original: str, as_text: bool, expected: str
) -> None:
    name = files_api.remote_filename(original, as_text=as_text)
    assert name == expected
    assert 1 <= len(name) <= 255
    assert not set(name) & FORBIDDEN_FILENAME_CHARS


def test_exceeds_context_window_keeps_the_document_searchable(
    online: Any, user: Any, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.fail_next(
        400,
        "invalid_request_error",
        "prompt is too long: the file exceeds context window of the model",
        path_prefix="/v1/files",
    )
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    assert document.status == Document.Status.READY
    assert document.file_id == ""
    assert "too large" in document.files_api_note
    assert chunk_search(workspace_id=document.workspace_id, query="vacation", top_k=3)


@pytest.mark.parametrize("status", [400, 403])
def test_storage_full_pauses_uploads_and_tells_the_admin(
    online: Any, user: Any, fake_anthropic: FakeAnthropic, status: int
) -> None:
    fake_anthropic.storage_limit_bytes = 10
    fake_anthropic.storage_limit_status = status
    first = ingested(user, "handbook.md", HANDBOOK.encode())
    assert first.status == Document.Status.READY
    assert first.files_api_note == PAUSED_NOTE
    assert first.chunks.count() > 0
    pause = files_api_pause()
    assert pause is not None and "storage is full" in pause.reason
    uploads_before = len([r for r in fake_anthropic.requests if r.method == "POST"])
    second = ingested(user, "travel.md", OTHER.encode())
    assert second.files_api_note == PAUSED_NOTE
    uploads_after = len([r for r in fake_anthropic.requests if r.method == "POST"])
    assert uploads_after == uploads_before, "paused: no upload was attempted"
    user.is_staff = True
    user.save()
    staff = Client()
    staff.force_login(user)
    assert "Files API are paused" in staff.get("/documents/").content.decode()
    # Space freed: reconcile --fix uploads what was paused.
    fake_anthropic.storage_limit_bytes = 10**9
    report = files_reconcile(fix=True)
    assert sorted(report.missing) == sorted([str(first.id), str(second.id)])
    assert report.reuploaded == 0  # still paused until an admin clears it
    from documents.remote.files import files_api_pause_clear

    files_api_pause_clear()
    report = files_reconcile(fix=True)
    assert report.reuploaded == 2
    assert len(fake_anthropic.files) == 2


def test_rate_limits_honour_retry_after(
    online: Any, user: Any, fake_anthropic: FakeAnthropic, settings: Any
) -> None:
    settings.FILES_API_BACKOFF_MAX_S = 5
    fake_anthropic.fail_next(
        429,
        "rate_limit_error",
        "Too many requests",
        headers={"retry-after": "1"},
        path_prefix="/v1/files",
    )
    started = time.monotonic()
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    assert document.file_id
    assert time.monotonic() - started >= 1.0


def test_backoff_grows_exponentially_with_jitter() -> None:
    def backoff_delay(attempt: int, wait: float | None) -> float:
        return errors.backoff_delay(attempt, base=1.0, cap=60, retry_after=wait)

    delays = [[backoff_delay(n, None) for _ in range(50)] for n in range(5)]
    for attempt, samples in enumerate(delays):
        full = 2.0**attempt
        assert all(full / 2 <= d <= full for d in samples)
        assert len(set(samples)) > 1, "jittered"
    assert backoff_delay(0, 7.5) >= 7.5
    assert backoff_delay(10, None) <= 60


def test_deleting_while_the_api_is_down_leaves_a_tombstone_that_drains(
    online: Any,
    user: Any,
    fake_anthropic: FakeAnthropic,
    django_capture_on_commit_callbacks: Any,
) -> None:
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    file_id = document.file_id
    fake_anthropic.fail_next(503, "api_error", "Down", times=1)
    with django_capture_on_commit_callbacks(execute=True):
        document_delete(document=document)
    assert not Document.objects.exists()
    tombstone = RemoteFileTombstone.objects.get()
    assert tombstone.file_id == file_id and tombstone.attempts == 1
    assert "Down" in tombstone.last_error
    assert file_id in fake_anthropic.files
    # Not due yet: the periodic drain waits for the backoff.
    assert tombstones_drain() == (0, 1)
    RemoteFileTombstone.objects.update(next_attempt=tombstone.created)
    fake_anthropic.fail_next(503, "api_error", "Down", times=1)
    assert tombstones_drain(retries=0) == (0, 1)
    RemoteFileTombstone.objects.update(next_attempt=tombstone.created)
    assert tombstones_drain() == (1, 0)
    assert fake_anthropic.files == {}


def test_reconcile_reports_and_fixes_orphans_and_missing_files(
    online: Any,
    user: Any,
    fake_anthropic: FakeAnthropic,
    anthropic_client: Any,
    settings: Any,
) -> None:
    kept = ingested(user, "handbook.md", HANDBOOK.encode())
    lost = ingested(user, "travel.md", OTHER.encode())
    lost_file = lost.file_id
    del fake_anthropic.files[lost_file]
    for index in range(120):  # more than one page of 100
        anthropic_client.files.upload(file=(f"orphan{index}.txt", b"x", "text/plain"))
    settings.FILES_ORPHAN_GRACE_MINUTES = -1
    out = StringIO()
    call_command("files_reconcile", stdout=out)
    lines = out.getvalue().splitlines()
    assert sum(line.startswith("orphan ") for line in lines) == 120
    assert f"missing {lost.id}" in lines
    assert "121 remote files, 120 orphans, 1 documents missing" in lines[-1]
    list_calls = [r for r in fake_anthropic.requests if r.method == "GET"]
    assert len(list_calls) >= 2, "listed page by page"
    assert len(fake_anthropic.files) == 121
    call_command("files_reconcile", "--fix", stdout=StringIO())
    lost.refresh_from_db()
    assert lost.file_id and lost.file_id != lost_file
    assert set(fake_anthropic.files) == {kept.file_id, lost.file_id}
    out = StringIO()
    call_command("files_reconcile", stdout=out)
    assert "0 orphans, 0 documents missing" in out.getvalue()


def test_reconcile_refuses_to_run_offline(db: None) -> None:
    with pytest.raises(CommandError, match="ANTHROPIC_API_KEY"):
        call_command("files_reconcile")


def test_a_recent_unowned_file_is_not_an_orphan(
    online: Any, user: Any, anthropic_client: Any
) -> None:
    anthropic_client.files.upload(file=("inflight.txt", b"x", "text/plain"))
    assert files_reconcile().orphans == []


def test_a_file_gone_at_question_time_is_reuploaded_and_retried_once(
    online: Any, user: Any, fake_anthropic: FakeAnthropic
) -> None:
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    old = document.file_id
    del fake_anthropic.files[old]
    answer = answer_question(
        workspace=document.workspace, user=user, text="How many vacation days?"
    )
    assert answer.mode == "claude"
    assert answer.citations.exists()
    document.refresh_from_db()
    assert document.file_id and document.file_id != old
    assert list(fake_anthropic.files) == [document.file_id]
    messages = [r for r in fake_anthropic.requests if r.path == "/v1/messages"]
    assert len(messages) == 2
