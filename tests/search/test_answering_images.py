"""Image documents answered online (fake APIs, real SDKs) and offline."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from documents.models import Chunk, Document, ImageVector
from documents.remote import multimodal
from search.models import Answer
from search.retrieval import hybrid_ids, image_ids
from tests.conftest import HANDBOOK, ingested
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.voyage import FakeVoyage
from tests.images import image_file
from tests.pdfs import make_pdf

LINES = ["Parking permit 2291 for Harbour Street", "Valid until 31 October 2027"]
QUESTION = "Until when is the Harbour Street parking permit valid?"


def _ask(api: Client, question: str) -> Any:
    response = api.post(
        "/api/v1/ask",
        json.dumps({"question": question}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def _posts(fake: Any, path: str) -> list[Any]:
    return [r for r in fake.requests if r.method == "POST" and r.path == path]


@pytest.mark.parametrize("kind", ["png", "jpeg", "gif", "webp"])
def test_each_image_type_is_answered_offline_from_its_ocr_text(
    kind: str, api: Client, user: Any
) -> None:
    document = ingested(user, f"permit.{kind}", image_file(LINES, kind))
    assert document.status == Document.Status.READY, document.error
    body = _ask(api, QUESTION)
    assert body["mode"] == "offline"
    assert "2027" in body["answer"]
    (citation, *_) = body["citations"]
    assert citation["document_id"] == str(document.id)
    cited = document.text[citation["start_char"] : citation["end_char"]]
    assert "2027" in cited and citation["start_page"] == 1


@pytest.mark.parametrize("kind", ["png", "jpeg", "gif", "webp"])
def test_each_image_type_goes_up_as_an_image_and_is_answered_by_claude(
    kind: str,
    online: Any,
    api: Client,
    user: Any,
    fake_anthropic: FakeAnthropic,
    web: Client,
) -> None:
    data = image_file(LINES, kind)
    document = ingested(user, f"permit.{kind}", data)
    assert document.status == Document.Status.READY, document.error
    (upload,) = _posts(fake_anthropic, "/v1/files")
    stored = fake_anthropic.files[document.file_id]
    assert stored.mime_type == f"image/{kind}" and stored.data == data
    assert stored.filename == f"permit.{kind}"
    assert upload.path == "/v1/files"
    body = _ask(api, QUESTION)
    assert body["mode"] == "claude"
    assert body["images_sent"] == [{"document_id": str(document.id), "title": "permit"}]
    # Claude cites the OCR text sent beside the image: exact ranges into it.
    assert body["citations"]
    for citation in body["citations"]:
        assert citation["document_id"] == str(document.id)
        cited = document.text[citation["start_char"] : citation["end_char"]]
        assert citation["cited_text"].strip() == cited
    answer = Answer.objects.get(code=body["id"])
    page = web.get(f"/ask/answers/{answer.code}/").content.decode()
    assert 'data-role="images-sent"' in page
    assert f"/documents/{document.id}/thumbnail.png" in page


def test_the_request_json_for_an_image_document(
    online: Any, api: Client, user: Any, fake_anthropic: FakeAnthropic, settings: Any
) -> None:
    settings.CLAUDE_MODEL = "claude-sonnet-4-6"
    image = ingested(user, "permit.png", image_file(LINES))
    handbook = ingested(user, "handbook.md", HANDBOOK.encode())
    _ask(api, "Harbour Street parking permit and vacation days")
    (request,) = _posts(fake_anthropic, "/v1/messages")
    (message,) = request.body["messages"]
    blocks = message["content"]
    assert blocks == [
        # Upload order: the image (what Claude sees), its OCR text (what it cites).
        {"type": "image", "source": {"type": "file", "file_id": image.file_id}},
        {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": image.text},
            "title": "permit",
            "citations": {"enabled": True},
        },
        {
            "type": "document",
            "source": {"type": "file", "file_id": handbook.file_id},
            "title": "handbook",
            "citations": {"enabled": True},
            "cache_control": {"type": "ephemeral"},
        },
        {"type": "text", "text": "Harbour Street parking permit and vacation days"},
    ]


def test_chunks_mode_sends_the_image_beside_its_search_results(
    online: Any, api: Client, user: Any, fake_anthropic: FakeAnthropic, settings: Any
) -> None:
    settings.ANSWER_CONTEXT_BUDGET_TOKENS = 10
    image = ingested(user, "permit.png", image_file(LINES))
    body = _ask(api, QUESTION)
    assert body["context_mode"] == "chunks"
    (request,) = _posts(fake_anthropic, "/v1/messages")
    first, *rest = request.body["messages"][0]["content"]
    assert first == {
        "type": "image",
        "source": {"type": "file", "file_id": image.file_id},
    }
    assert {block["type"] for block in rest[:-1]} == {"search_result"}


def test_images_get_multimodal_vectors_searched_beside_the_text(
    online: Any, user: Any, fake_voyage: FakeVoyage
) -> None:
    image = ingested(user, "permit.png", image_file(LINES))
    ingested(user, "handbook.md", HANDBOOK.encode())
    (embed,) = _posts(fake_voyage, "/v1/multimodalembeddings")
    assert embed.body["model"] == "voyage-multimodal-3.5"
    assert embed.body["input_type"] == "document"
    ((text, picture),) = [i["content"] for i in embed.body["inputs"]]
    assert text == {"type": "text", "text": image.text.strip()}
    assert picture["type"] == "image_base64"
    assert picture["image_base64"].startswith("data:image/png;base64,")
    (vector,) = ImageVector.objects.filter(document_id=image.id)
    assert vector.model == "voyage-multimodal-3.5" and vector.page == 1
    assert image_ids(image.workspace_id, "parking permit", 5) == [vector.chunk_id]
    # The image ranking adds to the image's fused score.
    with_images = dict(hybrid_ids(image.workspace_id, "parking permit"))
    assert with_images[vector.chunk_id] > 0


def test_the_image_space_adds_its_ranking_to_the_fusion(
    online: Any, user: Any, settings: Any
) -> None:
    image = ingested(user, "permit.png", image_file(LINES))
    (vector,) = ImageVector.objects.filter(document_id=image.id)
    fused = dict(hybrid_ids(image.workspace_id, "parking permit"))
    settings.MULTIMODAL_EMBEDDING_MODEL = ""
    without = dict(hybrid_ids(image.workspace_id, "parking permit"))
    assert fused[vector.chunk_id] > without[vector.chunk_id]
    assert image_ids(image.workspace_id, "parking permit", 5) == []


def test_no_multimodal_call_without_a_model(
    online: Any, user: Any, fake_voyage: FakeVoyage, settings: Any
) -> None:
    settings.MULTIMODAL_EMBEDDING_MODEL = ""
    multimodal.forget_clients()
    image = ingested(user, "permit.png", image_file(LINES))
    assert image.status == Document.Status.READY
    assert not _posts(fake_voyage, "/v1/multimodalembeddings")
    assert not ImageVector.objects.exists()


def test_pdf_pages_get_multimodal_vectors_when_asked(
    online: Any, user: Any, fake_voyage: FakeVoyage, settings: Any
) -> None:
    settings.MULTIMODAL_EMBED_PDF_PAGES = True
    document = ingested(
        user,
        "report.pdf",
        make_pdf([["Widget sales rose in spring."], ["Gadget sales fell in autumn."]]),
    )
    vectors = ImageVector.objects.filter(document_id=document.id).order_by("page")
    assert [v.page for v in vectors] == [1, 2]
    for vector in vectors:
        chunk = Chunk.objects.get(id=vector.chunk_id)
        assert chunk.document_id == document.id and chunk.page == vector.page
    (embed,) = _posts(fake_voyage, "/v1/multimodalembeddings")
    texts = [i["content"][0]["text"] for i in embed.body["inputs"]]
    assert "Widget" in texts[0] and "Gadget" in texts[1]
