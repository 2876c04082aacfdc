"""Isolation through every way in, and questions scoped to documents or tags."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from documents.api_auth import token_create
from documents.models import Document
from search.models import Feedback
from search.retrieval import chunk_search
from tests.conftest import HANDBOOK, ingested
from tests.factories import make_user

SECRET = "# Project Nightjar\n\nThe Nightjar launch code is 7741 and ships in May.\n"
TRAVEL = (
    "# Travel policy\n\nBook trains for trips under 500 kilometres. "
    "Paid vacation is not affected by travel days.\n"
)


def _api(user: Any) -> Client:
    return Client(headers={"Authorization": f"Bearer {token_create(user=user)}"})


def _post(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json")


def test_every_way_into_another_workspace_is_404(db: None) -> None:
    alice, bob = make_user(), make_user()
    secret = ingested(alice, "nightjar.md", SECRET.encode())
    ingested(bob, "handbook.md", HANDBOOK.encode())
    answer = _post(_api(alice), "/api/v1/ask", {"question": "Nightjar launch code"})
    answer = answer.json()
    citation = answer["citations"][0]
    web = Client()
    web.force_login(bob)
    api = _api(bob)
    d, a = secret.id, answer["id"]
    cite = f"/documents/{d}/?start={citation['start_char']}&end={citation['end_char']}"
    for path in (cite, f"/documents/{d}/original", f"/ask/answers/{a}/"):
        assert web.get(path).status_code == 404, path
    for path in (f"/documents/{d}/tags", f"/ask/answers/{a}/feedback"):
        assert web.post(path, {"tags": "x", "helpful": "no"}).status_code == 404, path
    for path in (f"/api/v1/documents/{d}", f"/api/v1/documents/{d}/text"):
        assert api.get(path).status_code == 404, path
    assert api.delete(f"/api/v1/documents/{d}").status_code == 404
    assert api.get(f"/api/v1/answers/{a}").status_code == 404
    response = _post(api, f"/api/v1/answers/{a}/feedback", {"helpful": False})
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"
    assert not Feedback.objects.exists()
    # Naming Alice's document in a filter finds nothing rather than her text.
    scoped = _post(
        api,
        "/api/v1/search",
        {"query": "Nightjar launch code", "document_ids": [str(d)]},
    )
    assert scoped.status_code == 200 and scoped.json()["results"] == []
    asked = _post(
        api,
        "/api/v1/ask",
        {"question": "What is the Nightjar launch code?", "document_ids": [str(d)]},
    ).json()
    assert "7741" not in asked["answer"] and asked["citations"] == []
    assert Document.objects.filter(id=d).exists()


def test_search_and_ask_can_be_scoped_to_documents(db: None) -> None:
    alice = make_user()
    handbook = ingested(alice, "handbook.md", HANDBOOK.encode())
    travel = ingested(alice, "travel.md", TRAVEL.encode())
    api = _api(alice)
    everything = _post(api, "/api/v1/search", {"query": "paid vacation"}).json()
    assert {r["document_id"] for r in everything["results"]} == {
        str(handbook.id),
        str(travel.id),
    }
    only_travel = _post(
        api,
        "/api/v1/search",
        {"query": "paid vacation", "document_ids": [str(travel.id)]},
    ).json()["results"]
    assert only_travel
    assert {r["document_id"] for r in only_travel} == {str(travel.id)}
    answer = _post(
        api,
        "/api/v1/ask",
        {"question": "paid vacation", "document_ids": [str(travel.id)]},
    ).json()
    assert answer["citations"]
    assert {c["document_id"] for c in answer["citations"]} == {str(travel.id)}


def test_questions_can_be_scoped_to_tags(db: None) -> None:
    alice = make_user()
    handbook = ingested(alice, "handbook.md", HANDBOOK.encode())
    travel = ingested(alice, "travel.md", TRAVEL.encode())
    web = Client()
    web.force_login(alice)
    web.post(f"/documents/{handbook.id}/tags", {"tags": "HR, benefits"})
    web.post(f"/documents/{travel.id}/tags", {"tags": "travel"})
    api = _api(alice)
    tagged = _post(
        api, "/api/v1/search", {"query": "paid vacation", "tags": ["hr"]}
    ).json()["results"]
    assert tagged and {r["document_id"] for r in tagged} == {str(handbook.id)}
    nothing = _post(
        api, "/api/v1/search", {"query": "paid vacation", "tags": ["unknown"]}
    ).json()["results"]
    assert nothing == []
    # The ask page offers the tags and scopes the answer to them.
    assert 'value="benefits"' in web.get("/ask/").content.decode()
    response = web.post("/ask/", {"question": "paid vacation", "tags": ["travel"]})
    page = web.get(response["Location"]).content.decode()
    assert f"/documents/{travel.id}/" in page
    assert f"/documents/{handbook.id}/" not in page


def test_filters_must_be_lists_of_strings(user: Any, api: Client) -> None:
    for body in (
        {"query": "x", "document_ids": "abc"},
        {"query": "x", "tags": [1, 2]},
    ):
        response = _post(api, "/api/v1/search", body)
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "invalid_request"


def test_chunk_search_filters_in_sql_by_document_ids(db: None) -> None:
    alice = make_user()
    handbook = ingested(alice, "handbook.md", HANDBOOK.encode())
    travel = ingested(alice, "travel.md", TRAVEL.encode())
    hits = chunk_search(
        workspace_id=handbook.workspace_id,
        query="paid vacation",
        top_k=10,
        document_ids=[str(handbook.id)],
    )
    assert hits and {h.document_id for h in hits} == {str(handbook.id)}
    assert (
        chunk_search(
            workspace_id=travel.workspace_id,
            query="paid vacation",
            top_k=10,
            document_ids=[],
        )
        == []
    )
