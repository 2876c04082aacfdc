"""The documents REST API contract."""

from __future__ import annotations

import io
import json
from typing import Any

from django.core.management import call_command
from django.test import Client

from documents.api_auth import token_create
from documents.ingestion.pipeline import document_ingest
from documents.models import ApiToken, Document
from tests.conftest import HANDBOOK, ingested
from tests.factories import make_user
from tests.pdfs import make_pdf


def _post_file(api: Client, name: str, data: bytes) -> Any:
    handle = io.BytesIO(data)
    handle.name = name
    return api.post("/api/v1/documents", {"file": handle})


def test_it_requires_a_token(db: None) -> None:
    response = Client().get("/api/v1/documents")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


def test_it_rejects_a_wrong_or_revoked_token(user: Any) -> None:
    bad = Client(headers={"Authorization": "Bearer cairn_nope"})
    assert bad.get("/api/v1/documents").status_code == 401
    raw = token_create(user=user)
    ApiToken.objects.update(revoked="2026-01-01T00:00Z")
    revoked = Client(headers={"Authorization": f"Bearer {raw}"})
    assert revoked.get("/api/v1/documents").status_code == 401


def test_tokens_are_stored_hashed(user: Any) -> None:
    raw = token_create(user=user)
    stored = ApiToken.objects.get()
    assert raw not in (stored.key_hash, stored.prefix)
    assert len(stored.key_hash) == 64


def test_create_api_token_prints_the_token_last(db: None) -> None:
    out = io.StringIO()
    call_command("create_api_token", "robot", "--create-user", stdout=out)
    token = out.getvalue().strip().splitlines()[-1]
    response = Client(headers={"Authorization": f"Bearer {token}"}).get(
        "/api/v1/documents"
    )
    assert response.status_code == 200


def test_upload_list_detail_text_delete(api: Client) -> None:
    created = _post_file(api, "handbook.md", HANDBOOK.encode())
    assert created.status_code == 201
    body = created.json()
    assert {"id", "title", "status"} <= body.keys()
    assert body["status"] == "queued"
    assert body["title"] == "handbook"
    document_ingest(document_id=body["id"])

    listed = api.get("/api/v1/documents").json()["documents"]
    assert [d["id"] for d in listed] == [body["id"]]

    detail = api.get(f"/api/v1/documents/{body['id']}").json()
    for key in ("id", "title", "status", "progress", "error", "file_id", "pages"):
        assert key in detail
    assert detail["status"] == "ready"
    assert detail["chunk_count"] > 0
    assert detail["mime_type"] == "text/markdown"
    assert detail["error"] is None

    text = api.get(f"/api/v1/documents/{body['id']}/text")
    assert text["Content-Type"].startswith("text/plain")
    assert text.content.decode() == HANDBOOK

    assert api.delete(f"/api/v1/documents/{body['id']}").status_code == 204
    assert api.get(f"/api/v1/documents/{body['id']}").status_code == 404
    assert not Document.objects.exists()


def test_a_pdf_reports_its_pages(api: Client) -> None:
    body = _post_file(api, "r.pdf", make_pdf([["one"], ["two"]])).json()
    document_ingest(document_id=body["id"])
    assert api.get(f"/api/v1/documents/{body['id']}").json()["pages"] == 2


def test_a_duplicate_answers_200_with_the_existing_document(api: Client) -> None:
    first = _post_file(api, "a.md", HANDBOOK.encode()).json()
    again = _post_file(api, "b.md", HANDBOOK.encode())
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert again.json()["duplicate"] is True


def test_upload_errors(api: Client, settings: Any) -> None:
    missing = api.post("/api/v1/documents", {})
    assert missing.status_code == 400
    assert missing.json()["error"]["type"] == "invalid_request"
    binary = _post_file(api, "x.txt", b"\x7fELF\x02\x01\x01binary")
    assert binary.status_code == 415
    assert binary.json()["error"]["type"] == "unsupported_media_type"
    settings.MAX_UPLOAD_MB = 1
    big = _post_file(api, "big.txt", b"word " * 300_000)
    assert big.status_code == 413
    assert big.json()["error"]["type"] == "request_too_large"
    assert not Document.objects.exists()


def test_unknown_and_malformed_ids_are_404(api: Client) -> None:
    for path in (
        "/api/v1/documents/not-a-uuid",
        "/api/v1/documents/00000000-0000-0000-0000-000000000000",
        "/api/v1/documents/00000000-0000-0000-0000-000000000000/text",
    ):
        response = api.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["type"] == "not_found"


def test_another_users_document_is_404(api: Client) -> None:
    other = make_user()
    theirs = Client(headers={"Authorization": f"Bearer {token_create(user=other)}"})
    body = _post_file(
        theirs, "secret.md", b"# Secret\n\nThe launch code is 1234."
    ).json()
    assert api.get(f"/api/v1/documents/{body['id']}").status_code == 404
    assert api.get(f"/api/v1/documents/{body['id']}/text").status_code == 404
    assert api.delete(f"/api/v1/documents/{body['id']}").status_code == 404
    assert Document.objects.filter(id=body["id"]).exists()
    assert api.get("/api/v1/documents").json()["documents"] == []


def test_wrong_methods_are_405(api: Client) -> None:
    assert api.put("/api/v1/documents").status_code == 405
    assert api.get("/api/v1/ask").status_code == 405


def test_a_wrong_method_is_a_json_error_after_authentication(api: Client) -> None:
    response = api.put("/api/v1/documents")
    assert response.json() == {
        "error": {"type": "method_not_allowed", "message": "PUT is not allowed here."}
    }
    anonymous = Client().put("/api/v1/documents")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["type"] == "authentication_error"


# The request models' rules, one per endpoint, with the exact error body -------


def _send(api: Client, method: str, path: str, body: Any) -> Any:
    return api.generic(method, path, json.dumps(body), content_type="application/json")


def test_a_url_that_is_not_a_string_is_refused_naming_the_field(api: Client) -> None:
    response = _send(api, "POST", "/api/v1/documents", {"url": 5})
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "type": "invalid_input",
            "message": "'url': Input should be a valid string.",
        }
    }
    assert not Document.objects.exists()


def test_a_url_body_over_16_kb_is_refused_before_it_is_read(api: Client) -> None:
    body = {"url": "https://example.com/", "padding": "x" * 16 * 1024}
    response = _send(api, "POST", "/api/v1/documents", body)
    assert response.status_code == 400
    assert response.json() == {
        "error": {"type": "invalid_input", "message": "The JSON body is too large."}
    }
    assert not Document.objects.exists()


def test_tags_that_are_not_all_strings_are_refused_naming_the_item(
    api: Client, user: Any
) -> None:
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    response = _send(
        api, "PATCH", f"/api/v1/documents/{document.id}", {"tags": ["hr", 7]}
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "type": "invalid_request",
            "message": "'tags.1': Input should be a valid string.",
        }
    }
    document.refresh_from_db()
    assert document.tags == []


def test_a_failed_document_says_its_kind_and_whether_a_retry_helps(
    api: Client, user: Any
) -> None:
    from documents import tasks

    damaged = ingested(user, "bad.pdf", make_pdf([["x"]])[:200])
    body = api.get(f"/api/v1/documents/{damaged.id}").json()
    assert body["status"] == "failed"
    assert body["failure_kind"] == "damaged"
    assert body["retryable"] is False
    assert body["failure_message"].startswith("This file is damaged")
    assert "PDFium" not in body["failure_message"]
    # The technical reason stays for whoever needs it.
    assert "PDFium" in body["error"]

    flaky = ingested(user, "handbook.md", HANDBOOK.encode())
    tasks.ingest_task.on_failure(
        RuntimeError("503 from the embedding service"),
        "task-id",
        (str(flaky.id),),
        {},
        None,
    )
    listed = {d["id"]: d for d in api.get("/api/v1/documents").json()["documents"]}
    assert listed[str(flaky.id)]["failure_kind"] == "service"
    assert listed[str(flaky.id)]["retryable"] is True


def test_a_document_that_did_not_fail_has_no_failure_fields(
    api: Client, user: Any
) -> None:
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    body = api.get(f"/api/v1/documents/{document.id}").json()
    assert body["status"] == "ready"
    assert body["failure_kind"] is None
    assert body["failure_message"] is None
    assert body["retryable"] is None
