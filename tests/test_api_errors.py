"""Every error under /api/v1/ is the documented JSON body, never an HTML page."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.test import Client

from documents.api_auth import token_create
from tests.conftest import HANDBOOK


def _error(response: Any, status: int) -> dict[str, str]:
    assert response.status_code == status, response.content[:200]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"type", "message"}
    assert body["error"]["message"]
    return dict(body["error"])


def test_a_multipart_body_without_a_boundary(api: Client) -> None:
    response = api.generic(
        "POST", "/api/v1/documents", b"garbage", content_type="multipart/form-data"
    )
    assert _error(response, 400)["type"] == "invalid_request"


def test_a_garbage_multipart_body(api: Client) -> None:
    body = b"--x\r\nContent-Disposition: form-data; name=file; filename=\x00\r\n\r\n"
    response = api.generic(
        "POST",
        "/api/v1/documents",
        body + b"\xff" * 100,
        content_type="multipart/form-data; boundary=x",
    )
    assert _error(response, 400)["type"] == "invalid_request"


def test_too_many_file_parts(api: Client) -> None:
    files = {}
    for index in range(150):
        handle = io.BytesIO(b"x")
        handle.name = f"f{index}.txt"
        files[f"file{index}"] = handle
    error = _error(api.post("/api/v1/documents", files), 400)
    assert "Too many files" in error["message"]


def test_a_thousand_character_file_name(api: Client) -> None:
    handle = io.BytesIO(HANDBOOK.encode())
    handle.name = "a" * 1000 + ".md"
    error = _error(api.post("/api/v1/documents", {"file": handle}), 400)
    assert "255 characters" in error["message"]


def test_a_body_over_the_size_limit_stays_413(api: Client, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = api.generic(
        "POST",
        "/api/v1/documents",
        b'{"url": "https://example.com/' + b"a" * 2048 + b'"}',
        content_type="application/json",
    )
    assert _error(response, 413)["type"] == "request_too_large"


def test_an_upload_over_the_size_limit_stays_413(api: Client, settings: Any) -> None:
    settings.MAX_UPLOAD_MB = 0
    handle = io.BytesIO(b"x" * 200_000)
    handle.name = "big.txt"
    assert _error(api.post("/api/v1/documents", {"file": handle}), 413)


def test_an_unknown_api_address(api: Client) -> None:
    assert _error(api.get("/api/v1/no-such-thing"), 404)["type"] == "not_found"


def test_an_unexpected_failure_is_a_json_500(user: Any, monkeypatch: Any) -> None:
    from documents import selectors

    def broken(**kwargs: Any) -> Any:
        raise RuntimeError("the database said something internal")

    monkeypatch.setattr(selectors, "document_list_for_user", broken)
    client = Client(
        headers={"Authorization": f"Bearer {token_create(user=user)}"},
        raise_request_exception=False,
    )
    error = _error(client.get("/api/v1/documents"), 500)
    assert "internal" not in error["message"]


@pytest.mark.parametrize("path", ["/documents/no-such-page", "/nowhere"])
def test_pages_outside_the_api_keep_html(web: Client, path: str) -> None:
    response = web.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
