"""URL documents end to end: fetched from a loopback server, ingested, refreshed."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client

from documents.ingestion.pipeline import document_ingest
from documents.models import Document
from documents.remote import web as web_sources
from documents.remote.web import WebError
from documents.services import workspace_default_for_user
from documents.web import documents as web_documents
from tests.pdfs import make_pdf
from tests.webserver import LocalWeb

ARTICLE = """<!doctype html>
<html><head><title>Travel policy · Example Corp</title>
<script>document.write("tracking pixel")</script><style>p{color:red}</style></head>
<body>
<header><nav><a href="/">Home</a> <a href="/jobs">Jobs</a></nav></header>
<main>
<h1>Travel policy</h1>
<p>Economy class is standard for flights under six hours.
Business class needs a director's approval.</p>
<ul><li>Book through the travel desk.</li><li>Keep every receipt.</li></ul>
</main>
<footer>Copyright Example Corp. Cookie settings.</footer>
</body></html>"""


def _add(workspace: Any, user: Any, url: str) -> Document:
    created = web_documents.document_create_from_url(
        workspace=workspace, uploader=user, url=url
    )
    document_ingest(document_id=created.document.id)
    return Document.objects.get(id=created.document.id)


def test_an_html_page_is_fetched_and_ingested_with_its_main_content(
    user: Any, workspace: Any, local_web: LocalWeb, loopback_allowed: Any
) -> None:
    url = local_web.page("/travel", ARTICLE)
    document = _add(workspace, user, url)
    assert document.status == "ready", document.error
    assert document.source_url == url
    assert document.fetched_at is not None
    assert document.title == "Travel policy · Example Corp"
    assert document.mime_type == "text/html"
    assert document.original_name == "travel.html"
    assert "Economy class is standard for flights under six hours." in document.text
    assert "- Book through the travel desk." in document.text
    for boilerplate in ("tracking pixel", "Jobs", "Cookie settings", "color:red"):
        assert boilerplate not in document.text
    assert document.chunks.count() > 0
    with document.original.open("rb") as handle:
        assert handle.read() == ARTICLE.encode()


def test_a_pdf_is_fetched_and_ingested_with_its_pages(
    user: Any, workspace: Any, local_web: LocalWeb, loopback_allowed: Any
) -> None:
    pdf = make_pdf([["Quarterly results."], ["Revenue grew 12 percent in Q3."]])
    url = local_web.page("/reports/q3.pdf", pdf, "application/pdf")
    document = _add(workspace, user, url)
    assert document.status == "ready", document.error
    assert document.pages == 2
    assert "Revenue grew 12 percent" in document.text
    assert document.title.endswith("q3.pdf")
    assert document.original_name == "q3.pdf"
    assert document.sha256 and document.size == len(pdf)


def test_a_refused_fetch_fails_the_document_with_the_error_code(
    user: Any, workspace: Any, local_web: LocalWeb, loopback_allowed: Any
) -> None:
    url = local_web.page("/data.json", b"{}", "application/json")
    document = _add(workspace, user, url)
    assert document.status == "failed"
    assert "unsupported_content_type" in document.error


def test_loopback_is_refused_at_once_without_the_test_setting(
    user: Any, workspace: Any, local_web: LocalWeb
) -> None:
    url = local_web.page("/travel", ARTICLE)
    with pytest.raises(WebError) as caught:
        _add(workspace, user, url)
    assert caught.value.code == "url_not_allowed"
    assert not Document.objects.exists()
    assert local_web.hosts == []


def test_a_name_resolving_to_a_private_address_is_refused_at_once(
    user: Any, workspace: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_sources, "resolve", lambda host, port: ["10.1.2.3"])
    with pytest.raises(WebError) as caught:
        web_documents.document_create_from_url(
            workspace=workspace, uploader=user, url="http://wiki.internal/Onboarding"
        )
    assert caught.value.code == "url_not_allowed"
    assert "10.1.2.3" in caught.value.message and "Web settings" in caught.value.message
    assert not Document.objects.exists()


def test_a_name_that_does_not_resolve_yet_is_left_to_the_worker(
    user: Any, workspace: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(host: str, port: int) -> list[str]:
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(web_sources, "resolve", fail)
    created = web_documents.document_create_from_url(
        workspace=workspace, uploader=user, url="https://flaky-dns.example/page"
    )
    assert created.document.status == "queued"


def test_a_page_that_could_not_be_reached_offers_a_retry_and_a_refused_one_not(
    user: Any, workspace: Any, local_web: LocalWeb, loopback_allowed: Any, web: Client
) -> None:
    down = _add(workspace, user, local_web.base_url + "/missing")
    assert down.status == "failed" and down.failure_kind == "url_unreachable"
    wrong = _add(workspace, user, local_web.page("/x.json", b"{}", "application/json"))
    assert wrong.failure_kind == "url_unsupported"
    html = web.get("/documents/").content.decode()
    assert f'action="/documents/{down.id}/retry"' in html
    assert f'action="/documents/{wrong.id}/retry"' not in html
    assert "could not be fetched" in html
    # A refused URL offers neither a retry nor a refresh.
    assert f'action="/documents/{wrong.id}/refresh"' not in html


def test_the_workspace_domain_lists_apply_before_queueing(
    user: Any, workspace: Any
) -> None:
    workspace.allowed_domains = ["docs.example.com"]
    workspace.save()
    with pytest.raises(WebError) as caught:
        web_documents.document_create_from_url(
            workspace=workspace, uploader=user, url="https://example.com/"
        )
    assert caught.value.code == "url_not_allowed"
    assert not Document.objects.exists()


def test_the_same_url_twice_is_a_duplicate(user: Any, workspace: Any) -> None:
    first = web_documents.document_create_from_url(
        workspace=workspace, uploader=user, url="https://example.com/a"
    )
    second = web_documents.document_create_from_url(
        workspace=workspace, uploader=user, url="https://example.com/a"
    )
    assert second.duplicate and second.document.id == first.document.id


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    """What the code under test queued, instead of reaching the broker."""
    from documents import queue

    messages: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(
        queue, "send", lambda task, *args: messages.append((task, args))
    )
    return messages


def _refetch(document: Document, capture: Any) -> bool:
    """Refresh in this process, running what waits for the commit."""
    with capture(execute=True):
        return web_documents.document_refetch(document_id=document.id)


def test_refresh_reingests_only_when_the_content_changed(
    user: Any,
    workspace: Any,
    local_web: LocalWeb,
    loopback_allowed: Any,
    sent: list[tuple[str, tuple[Any, ...]]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    url = local_web.page("/policy", "<main><p>Version one says ten days.</p></main>")
    document = _add(workspace, user, url)
    assert document.status == "ready"
    ingested_at, fetched_at = document.ingested, document.fetched_at
    chunk_ids = set(document.chunks.values_list("id", flat=True))

    time.sleep(0.01)
    assert _refetch(document, django_capture_on_commit_callbacks) is False
    document.refresh_from_db()
    assert document.ingested == ingested_at
    assert document.fetched_at is not None and fetched_at is not None
    assert document.fetched_at > fetched_at
    assert set(document.chunks.values_list("id", flat=True)) == chunk_ids
    assert sent == []

    local_web.page("/policy", "<main><p>Version two says twelve days.</p></main>")
    assert _refetch(document, django_capture_on_commit_callbacks) is True
    document.refresh_from_db()
    # Queued for the normal ingestion (its queues, retries and failure hook).
    assert document.status == "queued"
    assert sent == [("documents.tasks.ingest_task", (str(document.id),))]
    document_ingest(document_id=document.id)
    document.refresh_from_db()
    assert document.status == "ready"
    assert document.ingested is not None and ingested_at is not None
    assert document.ingested > ingested_at
    assert "twelve days" in document.text and "ten days" not in document.text
    assert not set(document.chunks.values_list("id", flat=True)) & chunk_ids


def test_a_failed_refresh_keeps_the_old_snapshot(
    user: Any,
    workspace: Any,
    local_web: LocalWeb,
    loopback_allowed: Any,
    sent: list[tuple[str, tuple[Any, ...]]],
) -> None:
    url = local_web.page("/policy", "<main><p>Still here.</p></main>")
    document = _add(workspace, user, url)
    del local_web.routes["/policy"]
    assert web_documents.document_refetch(document_id=document.id) is False
    document.refresh_from_db()
    assert document.status == "ready"
    assert "Still here." in document.text
    assert "url_not_accessible" in document.error
    assert sent == []


def test_a_transient_error_while_a_refresh_reingests_is_retried_and_ends_ready(
    online: Any,
    user: Any,
    workspace: Any,
    local_web: LocalWeb,
    loopback_allowed: Any,
    fake_anthropic: Any,
    sent: list[tuple[str, tuple[Any, ...]]],
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from documents import tasks

    url = local_web.page("/policy", "<main><p>Version one says ten days.</p></main>")
    document = _add(workspace, user, url)
    assert document.status == "ready" and document.file_id
    local_web.page("/policy", "<main><p>Version two says twelve days.</p></main>")
    assert _refetch(document, django_capture_on_commit_callbacks) is True
    assert sent == [("documents.tasks.ingest_task", (str(document.id),))]

    # The upload of the new snapshot fails past the client's own retries: the
    # task's automatic retry (run in this process) brings the document home.
    fake_anthropic.fail_next(503, "api_error", "Unavailable", times=3)
    handed_over: list[str] = []
    monkeypatch.setattr(tasks.ingest_index_task, "delay", handed_over.append)
    tasks.ingest_task.apply(args=(str(document.id),))
    assert handed_over == [str(document.id)]
    result = tasks.ingest_index_task.apply(args=(str(document.id),))
    assert result.successful()
    document.refresh_from_db()
    assert document.status == "ready", document.error
    assert "twelve days" in document.text
    assert document.file_id in fake_anthropic.files


def test_a_refresh_owes_the_old_remote_file_a_delete_when_the_api_refuses_it(
    online: Any,
    user: Any,
    workspace: Any,
    local_web: LocalWeb,
    loopback_allowed: Any,
    fake_anthropic: Any,
    sent: list[tuple[str, tuple[Any, ...]]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    from documents.models import RemoteFileTombstone

    url = local_web.page("/policy", "<main><p>Version one says ten days.</p></main>")
    document = _add(workspace, user, url)
    old_file_id = document.file_id
    assert old_file_id in fake_anthropic.files
    local_web.page("/policy", "<main><p>Version two says twelve days.</p></main>")
    fake_anthropic.fail_next(
        503, "api_error", "Unavailable", path_prefix=f"/v1/files/{old_file_id}"
    )
    assert _refetch(document, django_capture_on_commit_callbacks) is True
    tombstone = RemoteFileTombstone.objects.get(file_id=old_file_id)
    assert tombstone.attempts == 1
    assert old_file_id in fake_anthropic.files


def test_a_refresh_deletes_the_old_remote_file_at_once_when_it_can(
    online: Any,
    user: Any,
    workspace: Any,
    local_web: LocalWeb,
    loopback_allowed: Any,
    fake_anthropic: Any,
    sent: list[tuple[str, tuple[Any, ...]]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    from documents.models import RemoteFileTombstone

    url = local_web.page("/policy", "<main><p>Version one says ten days.</p></main>")
    document = _add(workspace, user, url)
    old_file_id = document.file_id
    local_web.page("/policy", "<main><p>Version two says twelve days.</p></main>")
    assert _refetch(document, django_capture_on_commit_callbacks) is True
    assert old_file_id not in fake_anthropic.files
    assert not RemoteFileTombstone.objects.exists()


# API and pages -------------------------------------------------------------------


def test_the_api_adds_a_url_and_refuses_with_the_error_codes(
    api: Client, user: Any
) -> None:
    response = api.post(
        "/api/v1/documents",
        json.dumps({"url": "https://example.com/handbook"}),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["source_url"] == "https://example.com/handbook"
    assert body["status"] == "queued"
    for payload, code in (
        ({"url": "https://example.com/" + "x" * 250}, "url_too_long"),
        ({"url": "gopher://example.com/"}, "url_not_allowed"),
        # Never fetched, so refused now rather than accepted and failed later.
        ({"url": "http://127.0.0.1/"}, "url_not_allowed"),
        ({"url": "http://10.0.0.7/wiki"}, "url_not_allowed"),
        ({"url": "http://169.254.169.254/latest/meta-data/"}, "url_not_allowed"),
        ({"url": "http://[::ffff:192.168.1.1]/"}, "url_not_allowed"),
        ({"link": "https://example.com/"}, "invalid_input"),
        ({"url": "not a url"}, "invalid_input"),
    ):
        response = api.post(
            "/api/v1/documents", json.dumps(payload), content_type="application/json"
        )
        assert response.status_code == 400, payload
        assert response.json()["error"]["type"] == code
    assert Document.objects.count() == 1


def test_the_api_refuses_a_blocked_domain_at_once(api: Client, user: Any) -> None:
    workspace = workspace_default_for_user(user=user)
    workspace.blocked_domains = ["example.com"]
    workspace.save()
    response = api.post(
        "/api/v1/documents",
        json.dumps({"url": "https://docs.example.com/handbook"}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "url_not_allowed"
    assert not Document.objects.exists()


def test_the_page_adds_several_urls_in_one_summary_banner(
    web: Client, user: Any
) -> None:
    web.post("/documents/add-urls", {"urls": "https://example.com/d"}, follow=True)
    response = web.post(
        "/documents/add-urls",
        {
            "urls": "https://example.com/a\n\nftp://example.com/b\n"
            "https://example.com/c\nhttps://example.com/d"
        },
        follow=True,
    )
    banners = [str(m) for m in response.context["messages"]]
    assert len(banners) == 1, banners
    (banner,) = banners
    assert banner.startswith(
        "2 URLs are queued for fetching: https://example.com/a, https://example.com/c."
    )
    duplicate = "Not added again: https://example.com/d (already here; use Refresh)."
    assert duplicate in banner
    assert "Not accepted: ftp://example.com/b: " in banner
    assert "url_not_allowed" in banner
    assert set(Document.objects.values_list("source_url", flat=True)) == {
        "https://example.com/a",
        "https://example.com/c",
        "https://example.com/d",
    }


def test_settings_are_for_workspace_admins_and_validate_the_lists(
    web: Client, user: Any
) -> None:
    workspace = workspace_default_for_user(user=user)
    page = web.get("/documents/settings")
    assert page.status_code == 200
    response = web.post(
        "/documents/settings",
        {
            "web_fetch_max_uses": 3,
            "web_fetch_max_content_tokens": 20000,
            "allowed_domains": "example.com\nexаmple.org",
        },
    )
    assert "punycode" in response.content.decode()
    response = web.post(
        "/documents/settings",
        {
            "web_fetch_max_uses": 3,
            "web_fetch_max_content_tokens": 20000,
            "allowed_domains": "example.com",
            "blocked_domains": "evil.example",
        },
    )
    assert "not both" in response.content.decode()
    response = web.post(
        "/documents/settings",
        {
            "web_fetch_enabled": "on",
            "web_fetch_max_uses": 3,
            "web_fetch_max_content_tokens": 20000,
            "allowed_domains": "Example.com\ndocs.example.org/guide",
        },
    )
    assert response.status_code == 302
    workspace.refresh_from_db()
    assert workspace.web_fetch_enabled
    assert workspace.web_fetch_max_uses == 3
    assert workspace.allowed_domains == ["example.com", "docs.example.org/guide"]

    membership = user.memberships.get(workspace=workspace)
    membership.role = "editor"
    membership.save()
    assert web.get("/documents/settings").status_code == 403


@pytest.mark.worker
def test_a_real_worker_fetches_and_ingests_an_allowed_intranet_url(
    local_web: LocalWeb, worker: Any, api: Client, user: Any
) -> None:
    # No test-only setting: the workspace allows its intranet address, and
    # both the API's check and the worker's fetch read that list.
    workspace = workspace_default_for_user(user=user)
    workspace.intranet_sources = ["127.0.0.1"]
    workspace.save()
    url = local_web.page("/travel", ARTICLE)
    response = api.post(
        "/api/v1/documents", json.dumps({"url": url}), content_type="application/json"
    )
    assert response.status_code == 201
    document_id = response.json()["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        document = Document.objects.get(id=document_id)
        if document.status in ("ready", "failed"):
            break
        time.sleep(0.2)
    assert document.status == "ready", (document.status, document.error)
    assert "Economy class" in document.text


def test_the_refresh_button_queues_a_refetch_on_commit(
    web: Client,
    user: Any,
    workspace: Any,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from documents import queue

    sent: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(queue, "send", lambda task, *args: sent.append((task, args)))
    created = web_documents.document_create_from_url(
        workspace=workspace, uploader=user, url="https://example.com/a"
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = web.post(f"/documents/{created.document.id}/refresh")
    assert response.status_code == 302
    assert ("documents.tasks.refresh_task", (str(created.document.id),)) in sent


def test_the_admin_form_refuses_both_lists_and_homographs(user: Any) -> None:
    from documents.admin import WorkspaceAdminForm

    base = {"name": "W", "web_fetch_max_uses": 5, "web_fetch_max_content_tokens": 5000}
    both = WorkspaceAdminForm(
        base | {"allowed_domains": "a.com", "blocked_domains": "b.com"}
    )
    assert not both.is_valid()
    homograph = WorkspaceAdminForm(base | {"blocked_domains": "аpple.com"})
    assert not homograph.is_valid()
    assert "xn--" in str(homograph.errors["blocked_domains"])
    good = WorkspaceAdminForm(base | {"blocked_domains": "Apple.com, b.com/x"})
    assert good.is_valid(), good.errors
    assert good.cleaned_data["blocked_domains"] == ["apple.com", "b.com/x"]
