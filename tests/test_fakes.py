"""Tests of the fake Anthropic and Voyage APIs, driven through the real SDK clients."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import anthropic
import pytest
import voyageai
import voyageai.error
from anthropic.types import FileExpiredError, FileMetadata, Message
from anthropic.types.storage_quota_exceeded_error import StorageQuotaExceededError
from hypothesis import given, settings
from hypothesis import strategies as st
from voyageai.client import Client as VoyageClient

from tests.fakes import _text
from tests.fakes.anthropic import NOT_FOUND_ANSWER, FakeAnthropic
from tests.fakes.pdf import make_pdf, page_texts
from tests.fakes.voyage import FakeVoyage, count_tokens, embed_text

pytest_plugins = ["tests.fakes.fixtures"]

MODEL = "claude-sonnet-4-6"
ROOT = Path(__file__).resolve().parent.parent

HANDBOOK = (
    "Cairn keeps a team's documents in one place. "
    "Every answer cites the exact passage it came from!\n\n"
    "Refunds are processed within fourteen days of the request. "
    "Managers approve refunds above five hundred euros. "
    "Is the office open on Sundays? No, it is closed on Sundays."
)


def upload(
    client: anthropic.Anthropic, name: str, data: bytes, mime: str
) -> FileMetadata:
    """Upload one file through the SDK's GA Files API."""
    return client.files.upload(file=(name, data, mime))


def ask(
    client: anthropic.Anthropic,
    content: list[dict[str, Any]],
    question: str,
    **kwargs: Any,
) -> Message:
    """Send document blocks and a question in one user turn."""
    blocks = [*content, {"type": "text", "text": question}]
    messages: Any = [{"role": "user", "content": blocks}]
    message: Message = client.messages.create(
        model=MODEL,
        max_tokens=1024,
        messages=messages,
        **kwargs,
    )
    return message


def file_doc(file_id: str, *, title: str | None = None, cite: bool = True) -> Any:
    """Build a document block for an uploaded file."""
    block: dict[str, Any] = {
        "type": "document",
        "source": {"type": "file", "file_id": file_id},
        "citations": {"enabled": cite},
    }
    if title is not None:
        block["title"] = title
    return block


def raw(
    url: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: Any = None,
) -> tuple[int, dict[str, str], Any]:
    """Send a request with urllib and return status, headers and JSON body."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def cited(message: Message) -> list[Any]:
    """Return all citations of a message, in order."""
    return [c for block in message.content for c in (block.citations or [])]  # type: ignore[union-attr]


# -- Files API -------------------------------------------------------------------


def test_upload_returns_metadata_and_is_recorded(
    anthropic_client: anthropic.Anthropic, fake_anthropic: FakeAnthropic
) -> None:
    meta = upload(anthropic_client, "handbook.txt", HANDBOOK.encode(), "text/plain")

    assert meta.id.startswith("file_011C")
    assert meta.type == "file"
    assert meta.filename == "handbook.txt"
    assert meta.mime_type == "text/plain"
    assert meta.size_bytes == len(HANDBOOK.encode())
    assert meta.downloadable is False
    assert meta.created_at.tzinfo is not None
    request = fake_anthropic.requests[-1]
    assert (request.method, request.path) == ("POST", "/v1/files")
    # The GA client: no ?beta=true, no beta header.
    assert request.query == {}
    assert request.headers["authorization"] == "Bearer test-key"
    assert "anthropic-beta" not in request.headers
    assert request.body["files"] == [
        {
            "name": "file",
            "filename": "handbook.txt",
            "content_type": "text/plain",
            "size": len(HANDBOOK.encode()),
        }
    ]


def test_get_metadata_and_delete(anthropic_client: anthropic.Anthropic) -> None:
    meta = upload(anthropic_client, "a.pdf", make_pdf(["One."]), "application/pdf")

    again = anthropic_client.files.retrieve_metadata(meta.id)
    deleted = anthropic_client.files.delete(meta.id)

    assert again == meta
    assert (deleted.id, deleted.type) == (meta.id, "file_deleted")
    with pytest.raises(anthropic.NotFoundError):
        anthropic_client.files.retrieve_metadata(meta.id)


def test_list_paginates_newest_first_across_pages(
    anthropic_client: anthropic.Anthropic, fake_anthropic: FakeAnthropic
) -> None:
    ids = [
        upload(anthropic_client, f"f{i}.txt", b"x", "text/plain").id for i in range(5)
    ]

    first = anthropic_client.files.list(limit=2)
    listed = [f.id for f in anthropic_client.files.list(limit=2)]

    assert [f.id for f in first.data] == ids[::-1][:2]
    assert first.next_page is not None
    assert first.next_page.startswith("page_")
    assert listed == ids[::-1]
    pages = [r for r in fake_anthropic.requests if r.method == "GET"]
    assert len(pages) == 1 + 3


def test_list_rejects_limit_out_of_range(anthropic_client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError):
        anthropic_client.files.list(limit=1001)


def test_unknown_file_is_404_with_real_error_body(
    anthropic_client: anthropic.Anthropic,
) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        anthropic_client.files.retrieve_metadata("file_011Cmissing")

    error = caught.value
    assert error.status_code == 404
    assert error.body == {
        "type": "error",
        "error": {
            "type": "not_found_error",
            "message": "File not found: file_011Cmissing",
        },
        "request_id": error.request_id,
    }
    assert error.request_id is not None
    assert error.request_id.startswith("req_")


def test_uploaded_file_is_not_downloadable(
    anthropic_client: anthropic.Anthropic,
) -> None:
    meta = upload(anthropic_client, "a.txt", b"hello", "text/plain")

    with pytest.raises(anthropic.BadRequestError) as caught:
        anthropic_client.files.download(meta.id)

    assert caught.value.error_code == "file_not_downloadable"


@pytest.mark.parametrize(
    "filename",
    [
        "dir/a.txt",
        "dir\\a.txt",
        "what?.txt",
        'quote".txt',
        "pipe|.txt",
        "star*.txt",
        "colon:.txt",
        "<angle>.txt",
        "tab\there.txt",
        "x" * 256,
    ],
)
def test_invalid_filenames_are_rejected(
    anthropic_client: anthropic.Anthropic, filename: str
) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        upload(anthropic_client, filename, b"data", "text/plain")

    assert "filename" in caught.value.message.lower()


def test_long_and_unicode_filenames_are_accepted(
    anthropic_client: anthropic.Anthropic,
) -> None:
    long_name = "x" * 251 + ".txt"

    assert upload(anthropic_client, long_name, b"a", "text/plain").filename == long_name
    assert upload(anthropic_client, "Café ü.txt", b"a", "text/plain").filename == (
        "Café ü.txt"
    )


def test_files_endpoints_need_no_beta_and_refuse_unknown_ones(
    fake_anthropic: FakeAnthropic,
) -> None:
    headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    url = fake_anthropic.base_url + "/v1/files"

    ga, _, _ = raw(url, headers=headers)
    still_accepted, _, _ = raw(
        url, headers={**headers, "anthropic-beta": "files-api-2025-04-14"}
    )
    status, response_headers, body = raw(
        url, headers={**headers, "anthropic-beta": "web-fetch-2025-09-10"}
    )

    assert (ga, still_accepted) == (200, 200)
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"].startswith(
        "Unexpected value(s) `web-fetch-2025-09-10` for the `anthropic-beta` header."
    )
    assert response_headers["request-id"] == body["request_id"]


def test_auth_version_and_beta_values_are_checked(
    fake_anthropic: FakeAnthropic,
) -> None:
    url = fake_anthropic.base_url + "/v1/files"
    beta = {"anthropic-beta": "files-api-2025-04-14"}

    no_key = raw(url, headers={"anthropic-version": "2023-06-01", **beta})
    no_version = raw(url, headers={"x-api-key": "k", **beta})
    bad_beta = raw(
        url,
        headers={
            "authorization": "Bearer k",
            "anthropic-version": "2023-06-01",
            "anthropic-beta": "files api please",
        },
    )

    assert no_key[0] == 401
    assert no_key[2]["error"]["type"] == "authentication_error"
    assert no_version[0] == 400
    assert "anthropic-version" in no_version[2]["error"]["message"]
    assert bad_beta[0] == 400
    assert "anthropic-beta" in bad_beta[2]["error"]["message"]


def test_only_configured_api_keys_are_accepted(
    fake_anthropic: FakeAnthropic, anthropic_client: anthropic.Anthropic
) -> None:
    fake_anthropic.api_keys = {"other-key"}

    with pytest.raises(anthropic.AuthenticationError):
        anthropic_client.files.list()


def test_oversize_upload_is_413(
    anthropic_client: anthropic.Anthropic, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.max_file_bytes = 10

    with pytest.raises(anthropic.ContentTooLargeError) as caught:
        upload(anthropic_client, "big.txt", b"x" * 11, "text/plain")

    assert caught.value.status_code == 413
    assert caught.value.type == "request_too_large"  # type: ignore[comparison-overlap]
    assert upload(anthropic_client, "ok.txt", b"x" * 10, "text/plain").size_bytes == 10


def test_storage_limit_is_reported_as_the_sdk_expects(
    anthropic_client: anthropic.Anthropic, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.storage_limit_bytes = 15
    first = upload(anthropic_client, "a.txt", b"x" * 10, "text/plain")

    with pytest.raises(StorageQuotaExceededError) as caught:
        upload(anthropic_client, "b.txt", b"x" * 10, "text/plain")

    assert caught.value.error_code == "storage_quota_exceeded"
    anthropic_client.files.delete(first.id)
    assert upload(anthropic_client, "b.txt", b"x" * 10, "text/plain").size_bytes == 10


def test_storage_limit_can_use_the_documented_403(
    anthropic_client: anthropic.Anthropic, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.storage_limit_bytes = 5
    fake_anthropic.storage_limit_status = 403

    with pytest.raises(anthropic.PermissionDeniedError) as caught:
        upload(anthropic_client, "b.txt", b"x" * 10, "text/plain")

    assert caught.value.type == "permission_error"
    assert "storage" in caught.value.message.lower()


def test_uploads_are_thread_safe(
    anthropic_client: anthropic.Anthropic, fake_anthropic: FakeAnthropic
) -> None:
    def work(n: int) -> None:
        """Upload five files from one thread."""
        for i in range(5):
            upload(anthropic_client, f"t{n}-{i}.txt", b"abc", "text/plain")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    listed = list(anthropic_client.files.list(limit=7))
    assert len({f.id for f in listed}) == 40
    assert fake_anthropic.errors == []


# -- Messages: citations -----------------------------------------------------------


def test_text_file_gives_char_locations_into_the_real_text(
    anthropic_client: anthropic.Anthropic,
) -> None:
    meta = upload(anthropic_client, "handbook.txt", HANDBOOK.encode(), "text/plain")

    message = ask(
        anthropic_client,
        [file_doc(meta.id, title="Handbook")],
        "How quickly are refunds processed?",
    )

    citations = cited(message)
    assert message.stop_reason == "end_turn"
    assert message.model == MODEL
    assert message.content[0].text == "Based on the documents: "  # type: ignore[union-attr]
    assert citations, message
    for citation in citations:
        assert citation.type == "char_location"
        assert HANDBOOK[citation.start_char_index : citation.end_char_index] == (
            citation.cited_text
        )
        assert citation.document_index == 0
        assert citation.document_title == "Handbook"
        assert citation.file_id == meta.id
    assert citations[0].cited_text == (
        "Refunds are processed within fourteen days of the request. "
    )


def test_document_index_counts_documents_across_messages(
    anthropic_client: anthropic.Anthropic,
) -> None:
    other = "Llamas graze on the high plains. Alpacas are smaller than llamas."
    messages: Any = [
        {
            "role": "user",
            "content": [
                {
                    "type": "document",
                    "source": {
                        "type": "text",
                        "media_type": "text/plain",
                        "data": other,
                    },
                    "citations": {"enabled": True},
                },
                {"type": "text", "text": "Remember this."},
            ],
        },
        {"role": "assistant", "content": "Noted."},
        {
            "role": "user",
            "content": [
                {
                    "type": "document",
                    "source": {
                        "type": "text",
                        "media_type": "text/plain",
                        "data": HANDBOOK,
                    },
                    "citations": {"enabled": True},
                },
                {"type": "text", "text": "Who approves large refunds?"},
            ],
        },
    ]

    message = anthropic_client.messages.create(
        model=MODEL, max_tokens=500, messages=messages
    )

    citations = cited(message)
    assert citations[0].document_index == 1
    assert citations[0].document_title is None
    assert citations[0].cited_text.startswith("Managers approve refunds")


def test_pdf_file_gives_page_locations(anthropic_client: anthropic.Anthropic) -> None:
    pdf = make_pdf(
        [
            "The boat leaves at noon.\nBring a warm coat.",
            "Llamas eat grass and hay.\nThey sleep standing up.",
        ]
    )
    meta = upload(anthropic_client, "guide.pdf", pdf, "application/pdf")

    message = ask(
        anthropic_client, [file_doc(meta.id, title="Guide")], "What do llamas eat?"
    )

    citation = cited(message)[0]
    assert citation.type == "page_location"
    assert (citation.start_page_number, citation.end_page_number) == (2, 3)
    assert citation.cited_text in page_texts(pdf)[1]
    assert "Llamas eat grass and hay." in citation.cited_text
    assert citation.document_title == "Guide"


def test_an_invalid_pdf_file_is_rejected_in_a_message(
    anthropic_client: anthropic.Anthropic,
) -> None:
    meta = upload(anthropic_client, "bad.pdf", b"%PDF-no", "application/pdf")

    with pytest.raises(anthropic.BadRequestError, match="PDF specified was not valid"):
        ask(anthropic_client, [file_doc(meta.id)], "What is in it?")


def test_empty_text_is_rejected_but_a_textless_pdf_is_not(
    anthropic_client: anthropic.Anthropic,
) -> None:
    empty = upload(anthropic_client, "empty.txt", b" \n", "text/plain")
    scan = upload(anthropic_client, "scan.pdf", make_pdf([""]), "application/pdf")

    message = ask(anthropic_client, [file_doc(scan.id)], "What is scanned?")

    assert message.content[0].text == NOT_FOUND_ANSWER  # type: ignore[union-attr]
    with pytest.raises(anthropic.BadRequestError, match="non-empty"):
        ask(anthropic_client, [file_doc(empty.id)], "What is empty?")


def test_pdf_page_limit_is_enforced(
    anthropic_client: anthropic.Anthropic, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.max_pdf_pages = 1
    meta = upload(
        anthropic_client, "two.pdf", make_pdf(["A.", "B."]), "application/pdf"
    )

    with pytest.raises(anthropic.BadRequestError, match="pages"):
        ask(anthropic_client, [file_doc(meta.id)], "What is on page B?")


def test_custom_content_gives_content_block_locations(
    anthropic_client: anthropic.Anthropic,
) -> None:
    blocks = [
        {"type": "text", "text": "Chapter one: the harbour."},
        {"type": "text", "text": "The lighthouse keeper feeds the seagulls at dawn."},
    ]
    document = {
        "type": "document",
        "source": {"type": "content", "content": blocks},
        "title": "Story",
        "citations": {"enabled": True},
    }

    message = ask(anthropic_client, [document], "When are the seagulls fed?")

    citation = cited(message)[0]
    assert citation.type == "content_block_location"
    assert (citation.start_block_index, citation.end_block_index) == (1, 2)
    assert citation.cited_text == blocks[1]["text"]
    assert citation.document_title == "Story"


def test_no_matching_sentence_gives_a_plain_refusal(
    anthropic_client: anthropic.Anthropic,
) -> None:
    meta = upload(anthropic_client, "handbook.txt", HANDBOOK.encode(), "text/plain")

    message = ask(anthropic_client, [file_doc(meta.id)], "Quantum chromodynamics?")

    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == NOT_FOUND_ANSWER  # type: ignore[union-attr]
    assert cited(message) == []


def test_citations_disabled_gives_uncited_text(
    anthropic_client: anthropic.Anthropic,
) -> None:
    meta = upload(anthropic_client, "handbook.txt", HANDBOOK.encode(), "text/plain")

    message = ask(anthropic_client, [file_doc(meta.id, cite=False)], "Refunds?")

    assert len(message.content) == 1
    assert cited(message) == []
    assert "Refunds are processed" in message.content[0].text  # type: ignore[union-attr]


def test_mixed_citation_settings_are_rejected(
    anthropic_client: anthropic.Anthropic,
) -> None:
    a = upload(anthropic_client, "a.txt", b"Alpha text.", "text/plain")
    b = upload(anthropic_client, "b.txt", b"Beta text.", "text/plain")

    with pytest.raises(anthropic.BadRequestError, match=r"[Cc]itations"):
        ask(anthropic_client, [file_doc(a.id), file_doc(b.id, cite=False)], "Alpha?")


def test_unknown_file_in_a_message_is_404(
    anthropic_client: anthropic.Anthropic,
) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        ask(anthropic_client, [file_doc("file_011Cgone")], "Anything?")

    assert caught.value.api_message == "File not found: file_011Cgone"


def test_an_expired_file_keeps_its_metadata_but_answers_file_expired(
    anthropic_client: anthropic.Anthropic, fake_anthropic: FakeAnthropic
) -> None:
    meta = anthropic_client.files.upload(
        file=("a.txt", b"Alpha text.", "text/plain"), expires_in_seconds=3600
    )
    assert meta.expires_at is not None
    assert 3590 < (meta.expires_at - meta.created_at).total_seconds() <= 3600
    fake_anthropic.expire(meta.id)

    still = anthropic_client.files.retrieve_metadata(meta.id)
    with pytest.raises(FileExpiredError) as caught:
        ask(anthropic_client, [file_doc(meta.id)], "Alpha?")

    assert still.id == meta.id
    assert isinstance(caught.value, anthropic.NotFoundError)
    assert caught.value.error_code == "file_expired"


@pytest.mark.parametrize("seconds", [3599, 7_776_001])
def test_expiry_outside_an_hour_to_ninety_days_is_refused(
    anthropic_client: anthropic.Anthropic, seconds: int
) -> None:
    with pytest.raises(anthropic.BadRequestError, match="expires_in_seconds"):
        anthropic_client.files.upload(
            file=("a.txt", b"x", "text/plain"), expires_in_seconds=seconds
        )


def test_image_blocks_take_image_files_only(
    anthropic_client: anthropic.Anthropic,
) -> None:
    image = upload(anthropic_client, "a.png", b"\x89PNG\r\n\x1a\n", "image/png")
    text = upload(anthropic_client, "a.txt", b"Alpha.", "text/plain")

    def block(file_id: str) -> Any:
        return {"type": "image", "source": {"type": "file", "file_id": file_id}}

    message = ask(anthropic_client, [block(image.id)], "What is this?")
    with pytest.raises(anthropic.BadRequestError, match="not valid for an image"):
        ask(anthropic_client, [block(text.id)], "What is this?")
    with pytest.raises(anthropic.NotFoundError):
        ask(anthropic_client, [block("file_011Cgone")], "What is this?")

    assert message.stop_reason == "end_turn"


def test_download_refuses_uploads_and_expired_files(
    anthropic_client: anthropic.Anthropic, fake_anthropic: FakeAnthropic
) -> None:
    meta = upload(anthropic_client, "a.txt", b"hello", "text/plain")
    fake_anthropic.files[meta.id].expires_at = "2020-01-01T00:00:00Z"

    with pytest.raises(FileExpiredError):
        anthropic_client.files.download(meta.id)


def test_image_file_is_not_a_valid_document(
    anthropic_client: anthropic.Anthropic,
) -> None:
    meta = upload(anthropic_client, "a.png", b"\x89PNG\r\n\x1a\n", "image/png")

    with pytest.raises(anthropic.BadRequestError, match="image/png"):
        ask(anthropic_client, [file_doc(meta.id)], "What is this?")


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "assistant", "content": "Hi"}]}, "first message"),
        ({"messages": [{"role": "robot", "content": "Hi"}]}, "role"),
        ({"messages": [{"role": "user", "content": "  "}]}, "non-empty"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 10**6}, "max_tokens"),
        ({"extra_body": {"temperature": 0.5}}, "temperature"),
        ({"extra_body": {"colour": "red"}}, "colour"),
        ({"system": 5}, "system"),
    ],
)
def test_malformed_requests_are_rejected(
    anthropic_client: anthropic.Anthropic, changes: dict[str, Any], fragment: str
) -> None:
    params: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hello"}],
        # An explicit timeout skips the SDK's own check on large max_tokens.
        "timeout": 30,
        **changes,
    }

    with pytest.raises(anthropic.BadRequestError, match=fragment):
        anthropic_client.messages.create(**params)


def test_block_level_mistakes_are_rejected(
    anthropic_client: anthropic.Anthropic,
) -> None:
    text = {"type": "text", "text": "Hello"}
    too_many = [{**text, "cache_control": {"type": "ephemeral"}} for _ in range(5)]
    bad_cache = [{**text, "cache_control": {"type": "forever"}}]
    unknown = [{"type": "hologram", "text": "Hi"}]
    extra_key = [{**text, "colour": "red"}]

    for content in (too_many, bad_cache, unknown, extra_key):
        messages: Any = [{"role": "user", "content": content}]
        with pytest.raises(anthropic.BadRequestError):
            anthropic_client.messages.create(
                model=MODEL, max_tokens=100, messages=messages
            )


def test_consecutive_user_turns_are_merged_like_the_api(
    anthropic_client: anthropic.Anthropic,
) -> None:
    document = {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": HANDBOOK},
        "citations": {"enabled": True},
    }

    messages: Any = [
        {"role": "user", "content": [document]},
        {"role": "user", "content": "Is the office open on Sundays?"},
    ]

    message = anthropic_client.messages.create(
        model=MODEL, max_tokens=300, messages=messages
    )

    assert "Sundays" in cited(message)[0].cited_text


def test_unknown_model_is_404(anthropic_client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError, match="gpt-4"):
        anthropic_client.messages.create(
            model="gpt-4", max_tokens=10, messages=[{"role": "user", "content": "Hi"}]
        )


def test_models_list_pages_with_lifecycle_and_a_retired_model_is_refused(
    anthropic_client: anthropic.Anthropic,
) -> None:
    first = anthropic_client.models.list(limit=2)
    every = list(anthropic_client.models.list(limit=2))
    opus = anthropic_client.models.retrieve("claude-opus-4-5")

    assert [m.id for m in first.data] == ["claude-sonnet-5-5", "claude-sonnet-4-6"]
    assert first.has_more is True
    assert [m.id for m in every][-1] == "claude-sonnet-4-5"
    assert {m.id: m.lifecycle for m in every}["claude-sonnet-4-5"] == "retired"
    assert opus.lifecycle == "deprecated"
    assert opus.retires_at is not None and opus.retires_at.year == 2027
    with pytest.raises(anthropic.NotFoundError):
        anthropic_client.models.retrieve("claude-sonnet-9-9")
    with pytest.raises(anthropic.NotFoundError, match="claude-sonnet-4-5"):
        anthropic_client.messages.create(
            model="claude-sonnet-4-5",
            max_tokens=10,
            messages=[{"role": "user", "content": "Hi"}],
        )


def test_max_tokens_cuts_the_answer(anthropic_client: anthropic.Anthropic) -> None:
    meta = upload(anthropic_client, "handbook.txt", HANDBOOK.encode(), "text/plain")

    message = anthropic_client.messages.create(
        model=MODEL,
        max_tokens=8,
        messages=[
            {
                "role": "user",
                "content": [file_doc(meta.id), {"type": "text", "text": "Refunds?"}],
            }
        ],
    )

    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens <= 8


def test_context_window_is_enforced(
    anthropic_client: anthropic.Anthropic, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.context_window_tokens = 10

    with pytest.raises(anthropic.BadRequestError, match="prompt is too long"):
        ask(anthropic_client, [], "x" * 100)


# -- Messages: prompt caching ------------------------------------------------------


def test_cache_is_written_then_read_for_the_same_prefix(
    anthropic_client: anthropic.Anthropic,
) -> None:
    long_text = " ".join(f"Fact number {i} is about topic {i}." for i in range(200))
    meta = upload(anthropic_client, "long.txt", long_text.encode(), "text/plain")
    document = {**file_doc(meta.id), "cache_control": {"type": "ephemeral"}}

    first = ask(anthropic_client, [document], "What is fact number 7 about?")
    second = ask(anthropic_client, [document], "What is fact number 9 about?")

    prefix = first.usage.cache_creation_input_tokens
    assert prefix is not None
    assert prefix >= 1024
    assert first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_creation_input_tokens == 0
    assert second.usage.cache_read_input_tokens == prefix
    question_tokens = _text.claude_tokens("What is fact number 9 about?")
    assert second.usage.input_tokens == question_tokens
    assert first.usage.cache_creation is not None
    assert first.usage.cache_creation.ephemeral_5m_input_tokens == prefix


def test_short_prefixes_are_not_cached(anthropic_client: anthropic.Anthropic) -> None:
    meta = upload(anthropic_client, "handbook.txt", HANDBOOK.encode(), "text/plain")
    document = {**file_doc(meta.id), "cache_control": {"type": "ephemeral"}}

    ask(anthropic_client, [document], "Refunds?")
    again = ask(anthropic_client, [document], "Refunds?")

    assert again.usage.cache_read_input_tokens == 0
    assert again.usage.cache_creation_input_tokens == 0


def test_streaming_sends_citation_deltas(
    anthropic_client: anthropic.Anthropic,
) -> None:
    meta = upload(anthropic_client, "handbook.txt", HANDBOOK.encode(), "text/plain")
    blocks: Any = [file_doc(meta.id), {"type": "text", "text": "Refunds approval?"}]

    with anthropic_client.messages.stream(
        model=MODEL,
        max_tokens=500,
        messages=[{"role": "user", "content": blocks}],
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()

    raw_types = [e.type for e in events]
    deltas = [e.delta.type for e in events if e.type == "content_block_delta"]
    assert raw_types[0] == "message_start"
    assert raw_types[-2:] == ["message_delta", "message_stop"]
    assert "citations_delta" in deltas
    assert "text_delta" in deltas
    citations = cited(final)
    assert citations
    for citation in citations:
        assert HANDBOOK[citation.start_char_index : citation.end_char_index] == (
            citation.cited_text
        )
    assert final.usage.output_tokens > 1
    assert final.stop_reason == "end_turn"
    non_stream = ask(anthropic_client, [file_doc(meta.id)], "Refunds approval?")
    assert [(b.text, b.citations) for b in final.content] == [  # type: ignore[union-attr]
        (b.text, b.citations)  # type: ignore[union-attr]
        for b in non_stream.content
    ]


def test_raw_stream_has_the_real_event_sequence(
    anthropic_client: anthropic.Anthropic,
) -> None:
    stream = anthropic_client.messages.create(
        model=MODEL,
        max_tokens=100,
        messages=[{"role": "user", "content": "Hello there"}],
        stream=True,
    )

    types = [event.type for event in stream]

    assert types == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


# -- fail_next and latency ------------------------------------------------------------


def test_fail_next_gives_a_429_with_retry_after(
    anthropic_client: anthropic.Anthropic, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.fail_next(
        429, "rate_limit_error", "Slow down", headers={"retry-after": "7"}
    )

    with pytest.raises(anthropic.RateLimitError) as caught:
        anthropic_client.files.list()

    assert caught.value.response.headers["retry-after"] == "7"
    assert caught.value.body["error"] == {  # type: ignore[index]
        "type": "rate_limit_error",
        "message": "Slow down",
    }
    assert list(anthropic_client.files.list()) == []


def test_fail_next_counts_and_matches_paths(
    anthropic_client: anthropic.Anthropic, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.fail_next(
        529, "overloaded_error", "Overloaded", times=2, path_prefix="/v1/messages"
    )
    hello: Any = [{"role": "user", "content": "Hello"}]

    upload(anthropic_client, "a.txt", b"a", "text/plain")
    for _ in range(2):
        with pytest.raises(anthropic.OverloadedError):
            anthropic_client.messages.create(model=MODEL, max_tokens=10, messages=hello)
    assert fake_anthropic.pending_failures() == 0
    anthropic_client.messages.create(model=MODEL, max_tokens=10, messages=hello)


def test_fail_next_with_an_error_code(
    anthropic_client: anthropic.Anthropic, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.fail_next(
        400, "invalid_request_error", "Quota", error_code="storage_quota_exceeded"
    )

    with pytest.raises(StorageQuotaExceededError):
        upload(anthropic_client, "a.txt", b"a", "text/plain")


def test_sdk_retries_recover_from_a_500(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.fail_next(
        500, "api_error", "Internal server error", headers={"retry-after-ms": "10"}
    )
    client = anthropic.Anthropic(
        api_key="k", base_url=fake_anthropic.base_url, max_retries=2
    )

    assert list(client.files.list()) == []
    assert len(fake_anthropic.requests) == 2
    client.close()


def test_failure_in_the_middle_of_a_stream(
    anthropic_client: anthropic.Anthropic, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.fail_next(529, "overloaded_error", "Overloaded", during_stream=True)
    hello: Any = [{"role": "user", "content": "Hello"}]

    anthropic_client.messages.create(model=MODEL, max_tokens=10, messages=hello)
    stream = anthropic_client.messages.stream(
        model=MODEL, max_tokens=10, messages=hello
    )
    with stream as events, pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        events.get_final_message()


def test_latency_is_added_per_request(
    anthropic_client: anthropic.Anthropic, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.latency_s = 0.2

    started = time.monotonic()
    anthropic_client.files.list()

    assert time.monotonic() - started >= 0.2


def test_reset_restores_defaults(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.max_file_bytes = 1
    fake_anthropic.latency_s = 3
    fake_anthropic.fail_next(500, "api_error", "x")

    fake_anthropic.reset()

    assert fake_anthropic.max_file_bytes == 500 * 1024**2
    assert fake_anthropic.latency_s == 0
    assert fake_anthropic.pending_failures() == 0


def test_command_line_server_prints_its_url() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.anthropic", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        status, _, _ = raw(
            base_url + "/v1/files",
            headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
        )
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert base_url.startswith("http://127.0.0.1:")
    assert status == 200


# -- Voyage ----------------------------------------------------------------------------


def norm(vector: list[float]) -> float:
    """Euclidean length."""
    return math.sqrt(sum(x * x for x in vector))


def dot(a: list[float], b: list[float]) -> float:
    """Dot product (cosine for unit vectors)."""
    return sum(x * y for x, y in zip(a, b, strict=True))


DOCS = [
    "Llamas eat grass and hay on the high Andean plains.",
    "PostgreSQL stores table rows in heap pages on disk.",
    "The central bank raised interest rates by half a point.",
]


def test_embed_defaults_to_1024_unit_vectors(
    voyage_client: VoyageClient, fake_voyage: FakeVoyage
) -> None:
    result = voyage_client.embed(DOCS, model="voyage-3.5", input_type="document")

    assert len(result.embeddings) == 3
    assert all(len(v) == 1024 for v in result.embeddings)
    assert all(abs(norm(v) - 1) < 1e-5 for v in result.embeddings)  # type: ignore[arg-type]
    assert result.total_tokens == sum(count_tokens(d) for d in DOCS)
    request = fake_voyage.requests[-1]
    assert (request.method, request.path) == ("POST", "/v1/embeddings")
    assert request.headers["authorization"] == "Bearer test-key"
    assert request.body["encoding_format"] == "base64"
    assert request.body["input_type"] == "document"


@pytest.mark.parametrize("dimension", [256, 512, 1024, 2048])
def test_embed_dimensions_are_matryoshka_prefixes(
    voyage_client: VoyageClient, dimension: int
) -> None:
    short = voyage_client.embed(
        DOCS[:1], model="voyage-3-large", output_dimension=dimension
    ).embeddings[0]
    full = voyage_client.embed(
        DOCS[:1], model="voyage-3-large", output_dimension=2048
    ).embeddings[0]

    prefix = full[:dimension]
    scale = norm(prefix)  # type: ignore[arg-type]
    assert len(short) == dimension
    assert abs(norm(short) - 1) < 1e-5  # type: ignore[arg-type]
    assert all(abs(a - b / scale) < 1e-5 for a, b in zip(short, prefix, strict=True))


def test_queries_are_closest_to_documents_about_the_same_thing(
    voyage_client: VoyageClient,
) -> None:
    documents = voyage_client.embed(DOCS, model="voyage-3.5", input_type="document")
    queries = [
        "What do llamas eat?",
        "How does Postgres store rows?",
        "Why did the bank raise interest rates?",
    ]

    vectors = voyage_client.embed(queries, model="voyage-3.5", input_type="query")

    for i, query in enumerate(vectors.embeddings):
        scores = [dot(query, d) for d in documents.embeddings]  # type: ignore[arg-type]
        assert max(range(3), key=scores.__getitem__) == i, scores


def test_query_and_document_embeddings_differ_slightly(
    voyage_client: VoyageClient,
) -> None:
    text = ["Llamas eat grass."]

    query = voyage_client.embed(text, model="voyage-3.5", input_type="query")
    document = voyage_client.embed(text, model="voyage-3.5", input_type="document")

    similarity = dot(query.embeddings[0], document.embeddings[0])  # type: ignore[arg-type]
    assert 0.9 < similarity < 1.0


def test_embeddings_are_stable_across_processes() -> None:
    code = (
        "from tests.fakes.voyage import embed_text;"
        "print(repr(embed_text('Stable hashing, please.', 'query', 256)))"
    )

    output = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    assert eval(output) == embed_text("Stable hashing, please.", "query", 256)


def test_quantized_output_types(voyage_client: VoyageClient) -> None:
    floats = voyage_client.embed(DOCS[:1], model="voyage-3.5").embeddings[0]
    int8 = voyage_client.embed(DOCS[:1], model="voyage-3.5", output_dtype="int8")
    uint8 = voyage_client.embed(DOCS[:1], model="voyage-3.5", output_dtype="uint8")
    binary = voyage_client.embed(DOCS[:1], model="voyage-3.5", output_dtype="binary")
    ubinary = voyage_client.embed(DOCS[:1], model="voyage-3.5", output_dtype="ubinary")

    assert len(int8.embeddings[0]) == 1024
    assert all(-128 <= x <= 127 for x in int8.embeddings[0])
    assert all(0 <= x <= 255 for x in uint8.embeddings[0])
    assert len(binary.embeddings[0]) == len(ubinary.embeddings[0]) == 128
    bits = [
        (int(byte) >> (7 - k)) & 1 for byte in ubinary.embeddings[0] for k in range(8)
    ]
    assert bits == [1 if x > 0 else 0 for x in floats]
    assert [u - 128 for u in ubinary.embeddings[0]] == binary.embeddings[0]


def test_plain_json_lists_without_base64(fake_voyage: FakeVoyage) -> None:
    status, _, body = raw(
        fake_voyage.base_url + "/embeddings",
        method="POST",
        headers={"Authorization": "Bearer k"},
        body={"input": "One text", "model": "voyage-3.5-lite", "output_dimension": 512},
    )

    assert status == 200
    assert body["object"] == "list"
    assert body["model"] == "voyage-3.5-lite"
    assert body["data"][0]["object"] == "embedding"
    assert body["data"][0]["index"] == 0
    assert len(body["data"][0]["embedding"]) == 512
    assert body["usage"] == {"total_tokens": 2}


@pytest.mark.parametrize(
    ("texts", "kwargs", "fragment"),
    [
        (["a"] * 1001, {"model": "voyage-3.5"}, "batch size"),
        (["a"], {"model": "voyage-9"}, "not supported"),
        (["a"], {"model": "voyage-3.5", "output_dimension": 768}, "output_dimension"),
        (["a"], {"model": "voyage-law-2", "output_dimension": 512}, "output_dimension"),
        (["a"], {"model": "voyage-finance-2", "output_dtype": "int8"}, "float"),
        (["a"], {"model": "voyage-3.5", "output_dtype": "int4"}, "output_dtype"),
        (["a"], {"model": "voyage-3.5", "input_type": "passage"}, "input_type"),
        (["a", ""], {"model": "voyage-3.5"}, "empty"),
    ],
)
def test_embed_rejections(
    voyage_client: VoyageClient,
    texts: list[str],
    kwargs: dict[str, Any],
    fragment: str,
) -> None:
    with pytest.raises(voyageai.error.InvalidRequestError, match=fragment):
        voyage_client.embed(texts, **kwargs)


def test_tokens_are_counted_like_subwords_not_like_cairn() -> None:
    # Letters by six, digits by three, marks one each: stricter than words.
    assert count_tokens("Llamas eat 2026 leaves!") == 6
    assert count_tokens("internationalization") == 4
    assert count_tokens("1234567890") == 4


def test_batch_token_limit(voyage_client: VoyageClient) -> None:
    text = "word " * 2_000

    voyage_client.embed([text] * 60, model="voyage-3-large")
    with pytest.raises(voyageai.error.InvalidRequestError, match="tokens"):
        voyage_client.embed([text] * 61, model="voyage-3-large")


def test_context_length_and_truncation(voyage_client: VoyageClient) -> None:
    long_text = "token " * 16_001

    with pytest.raises(voyageai.error.InvalidRequestError, match="context length"):
        voyage_client.embed([long_text], model="voyage-law-2", truncation=False)
    result = voyage_client.embed([long_text], model="voyage-law-2", truncation=True)

    assert result.total_tokens == 16_000


def test_voyage_requires_a_bearer_key(fake_voyage: FakeVoyage) -> None:
    status, _, body = raw(
        fake_voyage.base_url + "/embeddings",
        method="POST",
        body={"input": ["a"], "model": "voyage-3.5"},
    )

    assert status == 401
    assert set(body) == {"detail"}


def test_voyage_wrong_key_raises_authentication_error(
    voyage_client: VoyageClient, fake_voyage: FakeVoyage
) -> None:
    fake_voyage.api_keys = {"the-real-key"}

    with pytest.raises(voyageai.error.AuthenticationError):
        voyage_client.embed(["a"], model="voyage-3.5")


def test_trailing_slash_in_base_url_is_a_404(fake_voyage: FakeVoyage) -> None:
    client = VoyageClient(api_key="k", base_url=fake_voyage.base_url + "/")

    with pytest.raises(voyageai.error.APIError, match="Not Found"):
        client.embed(["a"], model="voyage-3.5")


def test_rerank_orders_by_overlap(voyage_client: VoyageClient) -> None:
    result = voyage_client.rerank(
        "What do llamas eat?", DOCS, model="rerank-2.5", top_k=2
    )

    assert result.results[0].index == 0
    assert len(result.results) == 2
    scores = [r.relevance_score for r in result.results]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert result.total_tokens == sum(
        count_tokens("What do llamas eat?") + count_tokens(d) for d in DOCS
    )


def test_rerank_returns_documents_on_request(fake_voyage: FakeVoyage) -> None:
    status, _, body = raw(
        fake_voyage.base_url + "/rerank",
        method="POST",
        headers={"Authorization": "Bearer k"},
        body={
            "query": "interest rates",
            "documents": DOCS,
            "model": "rerank-2.5-lite",
            "return_documents": True,
        },
    )

    assert status == 200
    assert body["data"][0] == {
        "relevance_score": body["data"][0]["relevance_score"],
        "index": 2,
        "document": DOCS[2],
    }
    assert [d["index"] for d in body["data"]] == [2, 0, 1]


def test_rerank_rejections(voyage_client: VoyageClient) -> None:
    with pytest.raises(voyageai.error.InvalidRequestError, match="not supported"):
        voyage_client.rerank("q", DOCS, model="rerank-9")
    with pytest.raises(voyageai.error.InvalidRequestError, match="limit"):
        voyage_client.rerank("q", ["d"] * 1001, model="rerank-2")


def test_voyage_fail_next(voyage_client: VoyageClient, fake_voyage: FakeVoyage) -> None:
    fake_voyage.fail_next(
        429, "rate_limit", "Rate limit exceeded", headers={"retry-after": "2"}
    )
    fake_voyage.fail_next(503, "unavailable", "Try later", path_prefix="/v1/rerank")

    with pytest.raises(voyageai.error.RateLimitError) as caught:
        voyage_client.embed(["a"], model="voyage-3.5")
    with pytest.raises(voyageai.error.ServiceUnavailableError):
        voyage_client.rerank("q", ["d"], model="rerank-2.5")

    assert caught.value.json_body == {"detail": "Rate limit exceeded"}
    assert caught.value.headers["retry-after"] == "2"
    assert voyage_client.embed(["a"], model="voyage-3.5").total_tokens == 1


# -- properties ---------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab .!?\n\t\"')")), max_size=80))
def test_sentence_spans_partition_the_text(text: str) -> None:
    spans = _text.sentence_spans(text)

    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        assert text[start:end].strip()
        previous_end = end
    covered = "".join(text[s:e] for s, e in spans)
    assert covered.split() == text.split()


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=1, max_size=60), st.sampled_from([256, 1024, 2048]))
def test_embeddings_are_always_unit_length(text: str, dimension: int) -> None:
    vector = embed_text(text, "document", dimension)

    assert len(vector) == dimension
    assert abs(norm(vector) - 1) < 1e-9
