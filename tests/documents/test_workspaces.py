"""The current workspace: switching on pages, choosing by header in the API."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from documents.api_auth import token_create
from documents.models import Membership, Workspace
from documents.services import workspace_default_for_user
from tests.conftest import HANDBOOK, ingested
from tests.factories import join, make_user


def test_pages_switch_between_the_users_workspaces(db: None) -> None:
    alice, bob = make_user(), make_user()
    ingested(alice, "alice.md", b"# Alice notes\n\nAlpha text.\n")
    bobs = ingested(bob, "bob.md", b"# Bob notes\n\nBeta text.\n")
    join(alice, bobs.workspace, Membership.Role.VIEWER)
    web = Client()
    web.force_login(alice)
    assert "alice.md" in web.get("/documents/").content.decode()
    switched = web.post("/workspaces/switch", {"workspace": str(bobs.workspace.code)})
    assert switched.status_code == 302
    page = web.get("/documents/").content.decode()
    assert "bob.md" in page and "alice.md" not in page
    # A viewer in Bob's workspace: no upload form there.
    assert 'class="upload"' not in page


def test_switching_to_a_workspace_one_is_not_in_is_404(db: None) -> None:
    alice, bob = make_user(), make_user()
    ingested(alice, "alice.md", b"# Alice notes\n\nAlpha.\n")
    bobs = ingested(bob, "bob.md", b"# Bob notes\n\nBeta.\n")
    web = Client()
    web.force_login(alice)
    code = str(bobs.workspace.code)
    assert web.post("/workspaces/switch", {"workspace": code}).status_code == 404
    assert web.post("/workspaces/switch", {"workspace": "nope"}).status_code == 404
    assert "bob.md" not in web.get("/documents/").content.decode()


def test_the_api_chooses_a_workspace_by_header_or_parameter(db: None) -> None:
    alice, bob = make_user(), make_user()
    ingested(alice, "alice.md", b"# Alice notes\n\nAlpha.\n")
    bobs = ingested(bob, "handbook.md", HANDBOOK.encode())
    join(alice, bobs.workspace, Membership.Role.EDITOR)
    api = Client(headers={"Authorization": f"Bearer {token_create(user=alice)}"})
    first = api.get("/api/v1/documents").json()["documents"]
    assert [d["filename"] for d in first] == ["alice.md"]
    code = str(bobs.workspace.code)
    by_header = api.get("/api/v1/documents", headers={"X-Cairn-Workspace": code})
    assert [d["filename"] for d in by_header.json()["documents"]] == ["handbook.md"]
    by_param = api.get(f"/api/v1/documents?workspace={code}")
    assert [d["filename"] for d in by_param.json()["documents"]] == ["handbook.md"]
    found = api.post(
        "/api/v1/search",
        json.dumps({"query": "vacation days"}),
        content_type="application/json",
        headers={"X-Cairn-Workspace": code},
    ).json()["results"]
    assert found and found[0]["document_id"] == str(bobs.id)


def test_the_api_refuses_a_workspace_the_user_is_not_in(db: None) -> None:
    alice, bob = make_user(), make_user()
    ingested(alice, "alice.md", b"# Alice\n\nAlpha.\n")
    bobs = ingested(bob, "bob.md", b"# Bob\n\nBeta.\n")
    api = Client(headers={"Authorization": f"Bearer {token_create(user=alice)}"})
    for code in (str(bobs.workspace.code), "not-a-uuid"):
        response = api.get("/api/v1/documents", headers={"X-Cairn-Workspace": code})
        assert response.status_code == 404
        assert response.json()["error"]["type"] == "not_found"
        response = api.post(
            "/api/v1/ask",
            json.dumps({"question": "Beta?"}),
            content_type="application/json",
            headers={"X-Cairn-Workspace": code},
        )
        assert response.status_code == 404


def test_a_user_creates_a_workspace_and_lands_in_it(user: Any, web: Client) -> None:
    web.get("/documents/")
    response = web.post("/workspaces/new", {"name": "Research"})
    assert response.status_code == 302
    research = Workspace.objects.get(name="Research")
    assert Membership.objects.get(user=user, workspace=research).role == "admin"
    assert "<h1>Research</h1>" in web.get("/documents/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_new_users_concurrent_first_requests_make_one_workspace() -> None:
    user = make_user()
    callers = 8
    barrier = threading.Barrier(callers)
    chosen: list[int] = []
    lock = threading.Lock()

    def first_request() -> None:
        try:
            barrier.wait()
            workspace = workspace_default_for_user(user=user)
            with lock:
                chosen.append(workspace.id)
        finally:
            # Each thread has its own database connection; close it here.
            connection.close()

    threads = [threading.Thread(target=first_request) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Membership.objects.filter(user=user).count() == 1
    assert len(chosen) == callers and set(chosen) == {
        Membership.objects.get(user=user).workspace_id
    }
