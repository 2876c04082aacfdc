"""The document pages: list, upload, view with highlight, retry, delete."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

from django.test import Client
from django.utils import timezone

from documents.ingestion.extraction import SUPPORTED_DESCRIPTION
from documents.ingestion.pipeline import document_ingest
from documents.models import Document
from documents.services import workspace_default_for_user
from tests.conftest import HANDBOOK, ingested
from tests.factories import make_documents, make_user
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


def test_several_files_upload_at_once_with_one_summary(web: Client) -> None:
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
    banners = re.findall(r'<li class="(\w+)">(.*?)</li>', page, re.S)
    assert len(banners) == 1, banners
    level, text = banners[0]
    assert level == "warning"
    assert "2 files are queued: handbook.md, report.pdf." in text
    assert "Not accepted: virus.txt" in text and "binary" in text
    assert Document.objects.count() == 2
    assert 'data-status-url="/documents/status.json"' in page
    again = web.post(
        "/documents/upload",
        {"files": [_file("copy.md", HANDBOOK.encode())]},
        follow=True,
    ).content.decode()
    assert "Not added again: copy.md (already here as “handbook”)" in again


def test_the_upload_form_names_every_format_and_drops_files(web: Client) -> None:
    page = web.get("/documents/").content.decode()
    assert SUPPORTED_DESCRIPTION in page
    assert 'id="upload"' in page and "js/upload.js" in page


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
    assert f'data-id="{document.id}"' in after["html"]


def test_the_status_poll_sends_only_rows_that_changed(web: Client, user: Any) -> None:
    workspace = workspace_default_for_user(user=user)
    rows = make_documents(workspace, 5)
    ids = ",".join(str(d.id) for d in rows)
    first = web.get(f"/documents/status.json?ids={ids}").json()
    assert len(first["documents"]) == 5
    # Later: nothing changed since the last answer, nothing is sent.
    later = timezone.now() + timedelta(seconds=30)
    quiet = web.get(
        "/documents/status.json", {"ids": ids, "since": later.isoformat()}
    ).json()
    assert quiet["documents"] == [] and quiet["added"] == 0
    Document.objects.filter(id=rows[2].id).update(
        status="processing",
        stage="embedding 3/9 chunks",
        progress=60,
        updated=later + timedelta(seconds=1),
    )
    changed = web.get(
        "/documents/status.json", {"ids": ids, "since": later.isoformat()}
    ).json()
    assert [d["id"] for d in changed["documents"]] == [str(rows[2].id)]
    assert "embedding 3/9 chunks" in changed["documents"][0]["html"]
    # Ids of another workspace's documents are ignored, not reported.
    stranger = make_user()
    other = make_documents(workspace_default_for_user(user=stranger), 1)[0]
    leak = web.get("/documents/status.json", {"ids": str(other.id)}).json()
    assert leak["documents"] == []


def test_the_list_is_paginated(web: Client, user: Any) -> None:
    workspace = workspace_default_for_user(user=user)
    make_documents(workspace, 120)
    first = web.get("/documents/").content.decode()
    assert first.count('<tr data-id="') == 50
    assert "1–50 of 120 documents" in first
    assert "Page 1 of 3" in first and "?page=2" in first
    last = web.get("/documents/?page=3").content.decode()
    assert last.count('<tr data-id="') == 20
    assert "101–120 of 120" in last
    assert web.get("/documents/?page=99").status_code == 200
    assert web.get("/documents/?page=abc").status_code == 200


def test_the_list_searches_titles_and_filters_by_status_type_and_tag(
    web: Client, user: Any
) -> None:
    workspace = workspace_default_for_user(user=user)
    make_documents(workspace, 40)
    page = web.get("/documents/?q=report+7").content.decode()
    titles = re.findall(r'data-role="title">([^<]+)<', page)
    assert titles and all("7" in t for t in titles), titles
    assert "Report 7 " in " ".join(titles) + " "
    failed = web.get("/documents/?status=failed").content.decode()
    assert (
        failed.count('<tr data-id="')
        == Document.objects.filter(status="failed").count()
    )
    pdfs = web.get("/documents/?type=pdf&tag=finance").content.decode()
    expected = Document.objects.filter(
        mime_type="application/pdf", tags__contains=["finance"]
    ).count()
    assert expected and pdfs.count('<tr data-id="') == expected
    nothing = web.get("/documents/?q=zzzz").content.decode()
    assert "No documents match." in nothing
    ignored = web.get("/documents/?status=bogus&type=exe&sort=drop").content.decode()
    assert ignored.count('<tr data-id="') == 40


def test_the_list_sorts(web: Client, user: Any) -> None:
    workspace = workspace_default_for_user(user=user)
    make_documents(workspace, 12)
    by_title = web.get("/documents/?sort=title").content.decode()
    titles = re.findall(r'data-role="title">([^<]+)<', by_title)
    assert titles == sorted(titles, key=str.lower)
    newest = re.findall(
        r'data-role="title">([^<]+)<', web.get("/documents/").content.decode()
    )
    oldest = re.findall(
        r'data-role="title">([^<]+)<',
        web.get("/documents/?sort=oldest").content.decode(),
    )
    assert newest == list(reversed(oldest))


def test_the_files_api_state_is_a_short_badge(web: Client, user: Any) -> None:
    ingested(user, "handbook.md", HANDBOOK.encode())
    page = web.get("/documents/").content.decode()
    assert ">offline</span>" in page
    assert "skipped: offline mode" not in page


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


def test_failed_documents_can_be_deleted_and_the_list_kept(
    web: Client, user: Any
) -> None:
    document = ingested(user, "bad.pdf", make_pdf([["x"]])[:200])
    assert document.status == "failed"
    html = web.get("/documents/").content.decode()
    assert "damaged" in html
    response = web.post(
        f"/documents/{document.id}/delete", {"list_query": "status=failed&page=2"}
    )
    assert response["Location"] == "/documents/?status=failed&page=2"
    assert not Document.objects.exists()


def test_the_document_page_names_the_type_and_reads_as_prose(
    web: Client, user: Any
) -> None:
    document = ingested(user, "r.pdf", make_pdf([["First."]]))
    html = web.get(f"/documents/{document.id}/").content.decode()
    assert ">PDF</span>" in html
    assert "· application/pdf ·" not in html
    assert 'class="card text"' in html


def test_the_original_downloads_as_an_attachment(web: Client, user: Any) -> None:
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    response = web.get(f"/documents/{document.id}/original")
    assert response["Content-Disposition"].startswith("attachment")
    assert response.getvalue() == HANDBOOK.encode()


def test_offline_mode_is_shown(web: Client) -> None:
    html = web.get("/documents/").content.decode()
    assert "Offline answers" in html
    assert "Offline embeddings" in html


def test_a_failed_login_keeps_the_username(user: Any) -> None:
    page = (
        Client()
        .post("/login/", {"username": user.username, "password": "wrong"})
        .content.decode()
    )
    assert "didn't match" in page
    assert f'name="username" value="{user.username}"' in page


def test_not_found_and_not_allowed_pages_are_styled(web: Client, user: Any) -> None:
    missing = web.get("/documents/00000000-0000-0000-0000-000000000000/")
    assert missing.status_code == 404
    html = missing.content.decode()
    assert "error-page" in html and "css/cairn.css" in html
    assert "Back to your documents" in html
    membership = user.memberships.get()
    membership.role = "editor"
    membership.save()
    forbidden = web.get("/documents/settings")
    assert forbidden.status_code == 403
    html = forbidden.content.decode()
    assert "error-page" in html and "This needs the admin role" in html


def test_there_is_a_favicon(web: Client) -> None:
    assert 'rel="icon"' in web.get("/documents/").content.decode()
    response = Client().get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("img/favicon.svg")


def test_the_tag_filter_offers_each_tag_once(web: Client, user: Any) -> None:
    from documents.selectors import tags_for_workspace

    workspace = workspace_default_for_user(user=user)
    make_documents(workspace, 30)
    assert tags_for_workspace(workspace=workspace) == ["finance", "policy"]
    page = web.get("/documents/").content.decode()
    assert page.count('<option value="finance"') == 1
