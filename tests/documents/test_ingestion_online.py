"""Ingestion against the fake Files API and Voyage, through the real SDKs."""

from __future__ import annotations

from typing import Any

import pytest

from documents.ingestion.pipeline import document_ingest
from documents.models import Document
from documents.remote.errors import TransientError
from documents.services import document_delete
from tests.conftest import HANDBOOK, ingested
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.voyage import FakeVoyage
from tests.pdfs import make_pdf


def _posts(fake: Any, path: str) -> list[Any]:
    return [r for r in fake.requests if r.method == "POST" and r.path.startswith(path)]


def test_text_goes_up_as_the_extracted_plain_text(
    online: Any, user: Any, fake_anthropic: FakeAnthropic, fake_voyage: FakeVoyage
) -> None:
    document = ingested(user, "Hand:book?.md", HANDBOOK.encode())
    assert document.status == Document.Status.READY
    assert document.file_id.startswith("file_")
    stored = fake_anthropic.files[document.file_id]
    assert stored.mime_type == "text/plain"
    assert stored.data == document.text.encode()
    assert stored.filename == "Hand_book_.txt"
    upload = _posts(fake_anthropic, "/v1/files")[0]
    # The Files API is GA: no beta header, and the GA path (no ?beta=true).
    assert "anthropic-beta" not in upload.headers
    assert upload.query == {}
    assert document.embedding_model == "voyage-4"
    embeds = _posts(fake_voyage, "/v1/embeddings")
    assert embeds
    assert all(r.body["input_type"] == "document" for r in embeds)
    assert all(r.body["output_dimension"] == 1024 for r in embeds)
    assert sum(len(r.body["input"]) for r in embeds) == document.chunks.count()


def test_a_pdf_goes_up_as_the_pdf(
    online: Any, user: Any, fake_anthropic: FakeAnthropic
) -> None:
    data = make_pdf([["Page one."], ["Page two."]])
    document = ingested(user, "report.pdf", data)
    stored = fake_anthropic.files[document.file_id]
    assert stored.mime_type == "application/pdf"
    assert stored.data == data
    assert stored.filename == "report.pdf"


def test_reingesting_keeps_one_remote_file(
    online: Any, user: Any, fake_anthropic: FakeAnthropic
) -> None:
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    chunks = list(document.chunks.values_list("text", flat=True))
    Document.objects.filter(id=document.id).update(status=Document.Status.QUEUED)
    document_ingest(document_id=document.id)
    document.refresh_from_db()
    assert document.status == Document.Status.READY
    assert len(fake_anthropic.files) == 1
    assert len(_posts(fake_anthropic, "/v1/files")) == 1
    assert list(document.chunks.values_list("text", flat=True)) == chunks


def test_an_overloaded_files_api_is_retried_with_backoff(
    online: Any, user: Any, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.fail_next(529, "overloaded_error", "Overloaded", times=2)
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    assert document.status == Document.Status.READY
    assert len(fake_anthropic.files) == 1
    assert len(_posts(fake_anthropic, "/v1/files")) == 3


def test_a_files_api_down_past_the_retries_is_transient_for_celery(
    online: Any, user: Any, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.fail_next(503, "api_error", "Unavailable", times=3)
    with pytest.raises(TransientError):
        ingested(user, "handbook.md", HANDBOOK.encode())
    document = Document.objects.get()
    assert document.status == Document.Status.PROCESSING
    document_ingest(document_id=document.id)  # what Celery's retry does
    document.refresh_from_db()
    assert document.status == Document.Status.READY
    assert len(fake_anthropic.files) == 1


def test_a_rejected_upload_fails_with_the_api_reason(
    online: Any, user: Any, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.fail_next(
        400, "invalid_request_error", "Unsupported file type", path_prefix="/v1/files"
    )
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    assert document.status == Document.Status.FAILED
    assert "Unsupported file type" in document.error


def test_a_file_too_large_for_the_files_api_stays_searchable(
    online: Any, user: Any, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.max_file_bytes = 10
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    assert document.status == Document.Status.READY
    assert document.file_id == ""
    assert "too large" in document.files_api_note
    assert document.chunks.count() > 0


def test_voyage_rate_limits_are_transient(
    online: Any, user: Any, fake_voyage: FakeVoyage
) -> None:
    fake_voyage.fail_next(429, "rate_limit", "Too many requests", times=3)
    with pytest.raises(TransientError):
        ingested(user, "handbook.md", HANDBOOK.encode())


def test_deleting_a_document_deletes_its_remote_file(
    online: Any,
    user: Any,
    fake_anthropic: FakeAnthropic,
    django_capture_on_commit_callbacks: Any,
) -> None:
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    assert document.file_id in fake_anthropic.files
    with django_capture_on_commit_callbacks(execute=True):
        document_delete(document=document)
    assert fake_anthropic.files == {}
    assert not Document.objects.exists()
