"""The search and ask REST API contract, offline."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from tests.conftest import HANDBOOK, ingested
from tests.pdfs import make_pdf


def _post(api: Client, path: str, body: Any) -> Any:
    return api.post(path, json.dumps(body), content_type="application/json")


def test_search_returns_chunks_with_offsets(api: Client, user: Any) -> None:
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    response = _post(api, "/api/v1/search", {"query": "paid vacation days", "top_k": 3})
    assert response.status_code == 200
    results = response.json()["results"]
    assert 1 <= len(results) <= 3
    top = results[0]
    assert set(top) >= {
        "document_id",
        "chunk_id",
        "text",
        "score",
        "start_char",
        "end_char",
        "page",
    }
    assert top["document_id"] == str(document.id)
    assert "vacation" in top["text"]
    assert document.text[top["start_char"] : top["end_char"]] == top["text"]


def test_ask_answers_offline_with_exact_citations(api: Client, user: Any) -> None:
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    response = _post(api, "/api/v1/ask", {"question": "How many vacation days?"})
    assert response.status_code == 200
    body = response.json()
    assert body["mode"] == "offline"
    assert "25 days" in body["answer"]
    assert body["citations"]
    for citation in body["citations"]:
        assert set(citation) >= {
            "document_id",
            "cited_text",
            "start_char",
            "end_char",
            "start_page",
            "end_page",
        }
        assert citation["document_id"] == str(document.id)
        cited = document.text[citation["start_char"] : citation["end_char"]]
        assert cited == citation["cited_text"]
        assert citation["start_page"] is None
    assert set(body["usage"]) >= {"input_tokens", "output_tokens"}


def test_ask_cites_pages_of_pdfs(api: Client, user: Any) -> None:
    pages = [["Cover page."], ["Nothing here."], ["The warranty lasts five years."]]
    document = ingested(user, "w.pdf", make_pdf(pages))
    body = _post(api, "/api/v1/ask", {"question": "How long does the warranty last?"})
    citation = body.json()["citations"][0]
    assert citation["kind"] == "page_location"
    assert citation["start_page"] == citation["end_page"] == 3
    assert "warranty" in citation["cited_text"]
    assert (
        document.text[citation["start_char"] : citation["end_char"]]
        == (citation["cited_text"])
    )


def test_a_question_the_documents_cannot_answer_says_so(api: Client, user: Any) -> None:
    ingested(user, "handbook.md", HANDBOOK.encode())
    body = _post(api, "/api/v1/ask", {"question": "zebra quantum xylophone"}).json()
    assert body["citations"] == []
    assert "do not contain" in body["answer"]


def test_bad_bodies_are_400(api: Client) -> None:
    assert _post(api, "/api/v1/ask", {}).status_code == 400
    assert _post(api, "/api/v1/ask", {"question": "  "}).status_code == 400
    assert _post(api, "/api/v1/ask", ["q"]).status_code == 400
    bad_json = api.post("/api/v1/ask", "{nope", content_type="application/json")
    assert bad_json.status_code == 400
    assert bad_json.json()["error"]["type"] == "invalid_request"
    assert _post(api, "/api/v1/search", {"query": "x", "top_k": 0}).status_code == 400
    assert _post(api, "/api/v1/search", {"query": "x", "top_k": "5"}).status_code == 400


def test_a_stored_answer_can_be_fetched_again(api: Client, user: Any) -> None:
    ingested(user, "handbook.md", HANDBOOK.encode())
    body = _post(api, "/api/v1/ask", {"question": "expense reports deadline"}).json()
    again = api.get(f"/api/v1/answers/{body['id']}").json()
    assert again == body


# The request models' rules, one per endpoint, with the exact error body -------


def _refused(response: Any, message: str) -> None:
    assert response.status_code == 400, response.content
    assert response.json() == {"error": {"type": "invalid_request", "message": message}}


def test_top_k_out_of_range_is_refused_naming_the_field(api: Client) -> None:
    _refused(
        _post(api, "/api/v1/search", {"query": "vacation", "top_k": 101}),
        "'top_k': Input should be less than or equal to 100.",
    )
    _refused(
        _post(api, "/api/v1/search", {"query": "vacation", "top_k": True}),
        "'top_k': Input should be a valid integer.",
    )


def test_every_refused_field_is_named(api: Client) -> None:
    _refused(
        _post(api, "/api/v1/search", {"top_k": 0}),
        "'query': Field required. 'top_k': Input should be greater than or equal to 1.",
    )


def test_a_question_over_the_limit_or_blank_is_refused(api: Client) -> None:
    _refused(
        _post(api, "/api/v1/ask", {"question": "x" * 4001}),
        "'question': String should have at most 4000 characters.",
    )
    _refused(
        _post(api, "/api/v1/ask", {"question": " \n "}),
        "'question': String should not be blank.",
    )


def test_a_conversation_id_that_is_not_a_string_is_refused(api: Client) -> None:
    _refused(
        _post(api, "/api/v1/ask", {"question": "x", "conversation_id": 5}),
        "'conversation_id': Input should be a valid string.",
    )


def test_feedback_helpful_must_be_a_boolean(api: Client, user: Any) -> None:
    ingested(user, "handbook.md", HANDBOOK.encode())
    answer = _post(api, "/api/v1/ask", {"question": "How many vacation days?"}).json()
    _refused(
        _post(api, f"/api/v1/answers/{answer['id']}/feedback", {"helpful": 1}),
        "'helpful': Input should be a valid boolean.",
    )
