"""The document pages: list, upload, view with highlight, retry, delete."""

from __future__ import annotations

import io
from typing import Any

from django.test import Client

from documents.ingestion.pipeline import document_ingest
from documents.models import Document
from tests.conftest import HANDBOOK, ingested
from tests.pdfs import make_pdf


def _file(name: str, data: bytes) -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def test_pages_require_login(db: None) -> None:
    for path in ("/documents/", "/ask/", "/documents/status.json"):
        response = Client().get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


def test_login_page_logs_in(user: Any) -> None:
    client = Client()
    assert client.get("/login/").status_code == 200
    response = client.post(
        "/login/", {"username": user.username, "password": "correct horse battery"}
    )
    assert response.status_code == 302
    assert client.get("/documents/").status_code == 200


def test_several_files_upload_at_once_with_a_message_each(web: Client) -> None:
    response = web.post(
        "/documents/upload",
        {
            "files": [
                _file("handbook.md", HANDBOOK.encode()),
                _file("report.pdf", make_pdf([["Revenue grew."]])),
                _file("virus.txt", b"MZ\x90\x00binary"),
            ]
        },
        follow=True,
    )
    page = response.content.decode()
    assert "handbook.md is queued" in page
    assert "report.pdf is queued" in page
    assert "virus.txt" in page and "binary" in page
    assert Document.objects.count() == 2
    assert 'data-status-url="/documents/status.json"' in page


def test_the_status_feed_shows_progress(web: Client, user: Any) -> None:
    web.post("/documents/upload", {"files": [_file("h.md", HANDBOOK.encode())]})
    document = Document.objects.get()
    before = web.get("/documents/status.json").json()["documents"][0]
    assert before["status"] == "queued"
    document_ingest(document_id=document.id)
    after = web.get("/documents/status.json").json()["documents"][0]
    assert after["status"] == "ready"
    assert after["progress"] == 100
    assert after["chunk_count"] > 0


def test_the_document_page_highlights_a_cited_range(web: Client, user: Any) -> None:
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    start = document.text.index("Employees get")
    end = document.text.index("per year.") + len("per year.")
    page = web.get(f"/documents/{document.id}/?start={start}&end={end}").content
    html = page.decode()
    assert (
        '<mark id="cited">Employees get 25 days of paid vacation per year.</mark>'
        in html
    )


def test_the_document_page_numbers_pdf_pages(web: Client, user: Any) -> None:
    document = ingested(user, "r.pdf", make_pdf([["First."], ["Second."]]))
    html = web.get(f"/documents/{document.id}/?page=2").content.decode()
    assert 'id="page-1"' in html and 'id="page-2"' in html
    assert 'data-focus-page="2"' in html


def test_failed_documents_can_be_retried_and_deleted(web: Client, user: Any) -> None:
    document = ingested(user, "bad.pdf", make_pdf([["x"]])[:200])
    assert document.status == "failed"
    html = web.get("/documents/").content.decode()
    assert "damaged" in html
    web.post(f"/documents/{document.id}/retry")
    document.refresh_from_db()
    assert document.status == "queued" and document.error == ""
    web.post(f"/documents/{document.id}/delete")
    assert not Document.objects.exists()


def test_the_original_downloads_as_an_attachment(web: Client, user: Any) -> None:
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    response = web.get(f"/documents/{document.id}/original")
    assert response["Content-Disposition"].startswith("attachment")
    assert response.getvalue() == HANDBOOK.encode()


def test_offline_mode_is_shown(web: Client) -> None:
    html = web.get("/documents/").content.decode()
    assert "Offline answers" in html
    assert "Offline embeddings" in html
