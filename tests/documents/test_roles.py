"""Roles on every page and endpoint: viewers read, editors change, admins manage."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from documents.api_auth import token_create
from documents.models import Document, Membership
from search import answering
from tests.conftest import HANDBOOK, ingested
from tests.factories import join, make_user


@dataclass
class Team:
    admin: Any
    editor: Any
    viewer: Any
    workspace: Any
    document: Document
    answer_code: str


@pytest.fixture
def team(db: None) -> Team:
    admin = make_user()
    document = ingested(admin, "handbook.md", HANDBOOK.encode())
    workspace = document.workspace
    editor, viewer = make_user(), make_user()
    join(editor, workspace, Membership.Role.EDITOR)
    join(viewer, workspace, Membership.Role.VIEWER)
    answer = answering.answer_question(
        workspace=workspace, user=admin, text="How many vacation days?"
    )
    return Team(admin, editor, viewer, workspace, document, str(answer.code))


def _web(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _api(user: Any) -> Client:
    return Client(headers={"Authorization": f"Bearer {token_create(user=user)}"})


def _upload(client: Client, url: str, field: str) -> Any:
    handle = io.BytesIO(b"# Notes\n\nSome notes.\n")
    handle.name = "notes.md"
    return client.post(url, {field: handle})


def test_a_viewer_reads_and_asks_on_every_page(team: Team) -> None:
    web = _web(team.viewer)
    d = team.document.id
    for path in (
        "/documents/",
        "/documents/status.json",
        f"/documents/{d}/",
        f"/documents/{d}/original",
        "/ask/",
        f"/ask/answers/{team.answer_code}/",
    ):
        assert web.get(path).status_code == 200, path
    asked = web.post("/ask/", {"question": "How many vacation days?"})
    assert asked.status_code == 302 and "/ask/answers/" in asked["Location"]
    feedback = web.post(f"/ask/answers/{team.answer_code}/feedback", {"helpful": "yes"})
    assert feedback.status_code == 302


def test_a_viewer_cannot_change_documents_through_pages(team: Team) -> None:
    web = _web(team.viewer)
    d = team.document.id
    assert _upload(web, "/documents/upload", "files").status_code == 403
    assert web.post(f"/documents/{d}/retry").status_code == 403
    assert web.post(f"/documents/{d}/delete").status_code == 403
    assert web.post(f"/documents/{d}/tags", {"tags": "x"}).status_code == 403
    assert Document.objects.filter(id=d).exists()
    assert Document.objects.count() == 1


def test_the_upload_button_is_hidden_for_viewers_only(team: Team) -> None:
    viewer_page = _web(team.viewer).get("/documents/").content.decode()
    editor_page = _web(team.editor).get("/documents/").content.decode()
    assert 'class="upload"' not in viewer_page
    assert "/delete" not in viewer_page
    assert 'class="upload"' in editor_page
    assert "/delete" in editor_page


def test_a_viewer_gets_json_403_from_the_api(team: Team) -> None:
    api = _api(team.viewer)
    d = team.document.id
    for response in (
        _upload(api, "/api/v1/documents", "file"),
        api.delete(f"/api/v1/documents/{d}"),
        api.patch(
            f"/api/v1/documents/{d}",
            json.dumps({"tags": ["x"]}),
            content_type="application/json",
        ),
    ):
        assert response.status_code == 403
        assert response.json()["error"]["type"] == "permission_error"
    assert Document.objects.filter(id=d).exists()
    assert api.get("/api/v1/documents").status_code == 200
    assert api.get(f"/api/v1/documents/{d}").status_code == 200
    assert api.get(f"/api/v1/documents/{d}/text").status_code == 200
    assert api.get(f"/api/v1/answers/{team.answer_code}").status_code == 200
    for path, body in (
        ("/api/v1/search", {"query": "vacation"}),
        ("/api/v1/ask", {"question": "How many vacation days?"}),
        (f"/api/v1/answers/{team.answer_code}/feedback", {"helpful": False}),
    ):
        response = api.post(path, json.dumps(body), content_type="application/json")
        assert response.status_code == 200, path


def test_an_editor_uploads_tags_retries_and_deletes(team: Team) -> None:
    web, api = _web(team.editor), _api(team.editor)
    d = team.document.id
    assert _upload(web, "/documents/upload", "files").status_code == 302
    assert Document.objects.count() == 2
    assert web.post(f"/documents/{d}/tags", {"tags": "HR, policy"}).status_code == 302
    assert Document.objects.get(id=d).tags == ["hr", "policy"]
    assert web.post(f"/documents/{d}/retry").status_code == 302
    patched = api.patch(
        f"/api/v1/documents/{d}",
        json.dumps({"tags": ["Finance", "finance", " q3 "]}),
        content_type="application/json",
    )
    assert patched.status_code == 200 and patched.json()["tags"] == ["finance", "q3"]
    bad = api.patch(
        f"/api/v1/documents/{d}",
        json.dumps({"tags": "x"}),
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert api.delete(f"/api/v1/documents/{d}").status_code == 204
    assert not Document.objects.filter(id=d).exists()


def test_only_admins_manage_members(team: Team) -> None:
    viewer_membership = Membership.objects.get(user=team.viewer)
    for user in (team.viewer, team.editor):
        web = _web(user)
        assert web.get("/workspace/members/").status_code == 403
        assert (
            web.post("/workspace/invitations", {"email": "x@example.com"}).status_code
            == 403
        )
        assert (
            web.post(
                f"/workspace/members/{viewer_membership.id}/role", {"role": "admin"}
            ).status_code
            == 403
        )
        assert (
            web.post(f"/workspace/members/{viewer_membership.id}/remove").status_code
            == 403
        )
    viewer_membership.refresh_from_db()
    assert viewer_membership.role == "viewer"
    admin = _web(team.admin)
    page = admin.get("/workspace/members/")
    assert page.status_code == 200
    assert team.viewer.username in page.content.decode()


def test_an_admin_changes_roles_and_removes_members(team: Team) -> None:
    admin = _web(team.admin)
    viewer = Membership.objects.get(user=team.viewer)
    admin.post(f"/workspace/members/{viewer.id}/role", {"role": "editor"})
    viewer.refresh_from_db()
    assert viewer.role == "editor"
    admin.post(f"/workspace/members/{viewer.id}/remove")
    assert not Membership.objects.filter(id=viewer.id).exists()
    # The removed member no longer sees the workspace's documents.
    assert _web(team.viewer).get(f"/documents/{team.document.id}/").status_code == 404


def test_the_last_admin_cannot_leave_or_be_demoted(team: Team) -> None:
    admin = _web(team.admin)
    own = Membership.objects.get(user=team.admin, workspace=team.workspace)
    admin.post(f"/workspace/members/{own.id}/role", {"role": "viewer"})
    admin.post(f"/workspace/members/{own.id}/remove")
    own.refresh_from_db()
    assert own.role == "admin"


def test_an_admin_cannot_touch_another_workspaces_members(team: Team) -> None:
    stranger = make_user()
    ingested(stranger, "own.md", b"# Own\n\nOwn text.\n")
    theirs = Membership.objects.get(user=stranger)
    admin = _web(team.admin)
    assert (
        admin.post(f"/workspace/members/{theirs.id}/role", {"role": "viewer"})
    ).status_code == 404
    assert admin.post(f"/workspace/members/{theirs.id}/remove").status_code == 404
    theirs.refresh_from_db()
    assert theirs.role == "admin"
