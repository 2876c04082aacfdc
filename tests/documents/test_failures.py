"""Failures in plain words, and Retry only where retrying can help."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.test import Client

from documents import tasks
from documents.ingestion import failures, kinds
from documents.models import Document
from tests.conftest import HANDBOOK, ingested
from tests.pdfs import make_pdf


def _encrypted_pdf() -> bytes:
    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(make_pdf([["secret text"]])))
    writer = pypdf.PdfWriter()
    for page in reader.pages:
        writer.add_page(page)
    writer.encrypt(user_password="hunter2", owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _broken_docx() -> bytes:
    # A zip that says it holds a Word document, cut off in the middle.
    import docx

    buffer = io.BytesIO()
    document = docx.Document()
    document.add_paragraph("Hello")
    document.save(buffer)
    return buffer.getvalue()[:3000]


# Real bad input through the real pipeline: a changed wording in extraction
# fails here instead of silently showing the generic message.
@pytest.mark.parametrize(
    ("name", "data", "kind"),
    [
        ("zero-pages.pdf", b"%PDF-1.4\n%%EOF\n", "damaged"),
        ("truncated.pdf", make_pdf([["x"]])[:200], "damaged"),
        ("locked.pdf", _encrypted_pdf(), "encrypted"),
        # Pages without text are OCRed now: a blank one has nothing to read.
        ("scan.pdf", make_pdf([[]]), "no_text_recognised"),
        ("blank.md", b"   \n\n  ", "empty"),
        ("broken.docx", _broken_docx(), "damaged"),
    ],
)
def test_each_failure_gets_its_kind_and_a_plain_message(
    user: Any, name: str, data: bytes, kind: str
) -> None:
    document = ingested(user, name, data)
    assert document.status == "failed"
    assert document.failure_kind == kind
    message = failures.plain_message(document.failure_kind, document.error)
    assert message == failures.KINDS[kind].message
    assert "PDFium" not in message
    assert not failures.kind_for(kind).retryable
    # The technical reason is kept for admins.
    assert document.error


def test_the_zero_page_pdf_reads_in_plain_words_and_offers_no_retry(
    user: Any, web: Client
) -> None:
    document = ingested(user, "empty-scan.pdf", b"%PDF-1.4\n%%EOF\n")
    html = web.get("/documents/").content.decode()
    assert "This file is damaged and cannot be read." in html
    assert "PDFium" not in html
    assert f'action="/documents/{document.id}/retry"' not in html
    assert f'action="/documents/{document.id}/delete"' in html
    detail = web.get(f"/documents/{document.id}/").content.decode()
    assert "This file is damaged and cannot be read." in detail
    assert "PDFium" not in detail


def test_a_retry_of_a_permanent_failure_is_refused(user: Any, web: Client) -> None:
    document = ingested(user, "bad.pdf", make_pdf([["x"]])[:200])
    response = web.post(f"/documents/{document.id}/retry", follow=True)
    assert "damaged" in response.content.decode()
    document.refresh_from_db()
    assert document.status == "failed"


def test_a_service_failure_offers_a_retry_that_queues_again(
    user: Any, web: Client
) -> None:
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    # What the task's failure hook records once an outside service's
    # retries are spent.
    tasks.ingest_task.on_failure(
        RuntimeError("503 from the embedding service"),
        "task-id",
        (str(document.id),),
        {},
        None,
    )
    document.refresh_from_db()
    assert document.status == "failed" and document.failure_kind == "service"
    assert "503 from the embedding service" in document.error
    html = web.get("/documents/").content.decode()
    assert "An outside service" in html and "503" not in html
    assert f'action="/documents/{document.id}/retry"' in html
    web.post(f"/documents/{document.id}/retry")
    document.refresh_from_db()
    assert document.status == "queued"
    assert document.error == "" and document.failure_kind == ""


def test_an_unexpected_error_is_internal_and_retryable(
    user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from documents.ingestion import pipeline

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(pipeline, "chunk_extracted", explode)
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    assert document.failure_kind == "internal"
    assert "disk on fire" in document.error
    assert failures.kind_for("internal").retryable


def test_a_failure_recorded_before_kinds_shows_its_reason_and_a_retry(
    user: Any, web: Client
) -> None:
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    Document.objects.filter(id=document.id).update(
        status="failed", error="Old reason.", failure_kind=""
    )
    html = web.get("/documents/").content.decode()
    assert "Old reason." in html
    assert f'action="/documents/{document.id}/retry"' in html


def test_an_extraction_problem_without_a_kind_shows_extractions_own_words() -> None:
    from documents.ingestion.extraction import ExtractionError

    error = ExtractionError("The PDF has more than 5,000 pages; the limit is 5,000.")
    assert error.kind == kinds.UNREADABLE
    assert failures.plain_message(error.kind, str(error)) == str(error)


def test_the_kind_is_the_raisers_never_the_wording(
    user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from documents.ingestion import pipeline
    from documents.ingestion.extraction import ExtractionError

    def refuse(*args: Any, **kwargs: Any) -> Any:
        # Words that once decided the kind ("password", "no text") and a kind
        # they never named.
        raise ExtractionError(
            "No text: the password box was damaged.", kind=kinds.SCANNED
        )

    monkeypatch.setattr(pipeline, "chunk_extracted", refuse)
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    assert document.failure_kind == kinds.SCANNED
    assert document.error == "No text: the password box was damaged."


@pytest.mark.parametrize(
    ("data", "ocr", "kind"),
    [
        (b"%PDF-1.4\n%%EOF\n", True, kinds.DAMAGED),
        (_encrypted_pdf(), True, kinds.ENCRYPTED),
        (make_pdf([[]]), True, kinds.NO_TEXT_RECOGNISED),
        (make_pdf([[]]), False, kinds.SCANNED),
    ],
)
def test_the_kind_crosses_the_extraction_childs_boundary(
    data: bytes, ocr: bool, kind: str
) -> None:
    from documents.ingestion.bounds import Bounds
    from documents.ingestion.extraction import PDF, ExtractionError
    from documents.ingestion.sandbox import extract_bounded

    with pytest.raises(ExtractionError) as raised:
        extract_bounded(data, PDF, bounds=Bounds(ocr_enabled=ocr))
    assert raised.value.kind == kind


def test_a_limit_the_file_runs_into_shows_the_limit(user: Any) -> None:
    from documents.ingestion.bounds import Bounds
    from documents.ingestion.extraction import TEXT
    from documents.ingestion.sandbox import run_child

    data = ("word " * 20_000_000).encode()
    run = run_child(
        {"kind": "extract", "mime_type": TEXT}, data, Bounds(memory_mb=200), None
    )
    assert run.failure_kind == kinds.UNREADABLE
    assert "200 MB of memory" in failures.plain_message(run.failure_kind, run.error)


def test_a_refused_url_fails_with_its_kind_from_the_fetch_code() -> None:
    from documents.remote import web as web_sources

    refused = web_sources.WebError(web_sources.URL_NOT_ALLOWED, "internal address")
    wrong = web_sources.WebError(web_sources.UNSUPPORTED_CONTENT_TYPE, "image/png")
    assert failures.kind_of_web_error(refused) == kinds.URL_REFUSED
    assert failures.kind_of_web_error(wrong) == kinds.URL_UNSUPPORTED
    assert not failures.kind_for(kinds.URL_REFUSED).retryable
