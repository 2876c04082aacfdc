"""Nobody sees another workspace's documents: by id, by search, by asking."""

from __future__ import annotations

import json

from django.test import Client

from documents.api_auth import token_create
from search.retrieval import chunk_search
from tests.conftest import HANDBOOK, ingested
from tests.factories import make_user

SECRET = "# Project Nightjar\n\nThe Nightjar launch code is 7741 and ships in May.\n"


def test_user_b_never_retrieves_user_a_chunks(db: None) -> None:
    alice, bob = make_user(), make_user()
    secret = ingested(alice, "nightjar.md", SECRET.encode())
    ingested(bob, "handbook.md", HANDBOOK.encode())
    bob_client = Client(headers={"Authorization": f"Bearer {token_create(user=bob)}"})

    found = bob_client.post(
        "/api/v1/search",
        json.dumps({"query": "Nightjar launch code", "top_k": 50}),
        content_type="application/json",
    ).json()["results"]
    assert all(r["document_id"] != str(secret.id) for r in found)

    answer = bob_client.post(
        "/api/v1/ask",
        json.dumps({"question": "What is the Nightjar launch code?"}),
        content_type="application/json",
    ).json()
    assert "7741" not in answer["answer"]
    assert all(c["document_id"] != str(secret.id) for c in answer["citations"])

    # Alice, who owns it, does find it.
    alice_hits = chunk_search(
        workspace_id=secret.workspace_id, query="Nightjar launch code", top_k=5
    )
    assert alice_hits and alice_hits[0].document_id == str(secret.id)


def test_pages_and_answers_of_another_workspace_are_404(db: None) -> None:
    alice, bob = make_user(), make_user()
    secret = ingested(alice, "nightjar.md", SECRET.encode())
    alice_api = Client(headers={"Authorization": f"Bearer {token_create(user=alice)}"})
    answer = alice_api.post(
        "/api/v1/ask",
        json.dumps({"question": "Nightjar launch code"}),
        content_type="application/json",
    ).json()
    assert answer["citations"]

    web = Client()
    web.force_login(bob)
    for path in (
        f"/documents/{secret.id}/",
        f"/documents/{secret.id}/original",
        f"/ask/answers/{answer['id']}/",
    ):
        assert web.get(path).status_code == 404, path
    assert web.post(f"/documents/{secret.id}/delete").status_code == 404
    assert web.post(f"/documents/{secret.id}/retry").status_code == 404
    bob_api = Client(headers={"Authorization": f"Bearer {token_create(user=bob)}"})
    assert bob_api.get(f"/api/v1/answers/{answer['id']}").status_code == 404
    status = web.get("/documents/status.json").json()["documents"]
    assert status == []
    assert "Nightjar" not in web.get("/documents/").content.decode()
