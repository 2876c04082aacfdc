"""Invitations: a pending membership an account picks up through its link."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client
from django.utils.html import escape

from documents.models import Invitation, Membership
from documents.teams import services as teams
from tests.factories import PASSWORD, join, make_user


def _invite(web: Client, email: str, role: str = "viewer") -> Invitation:
    response = web.post("/workspace/invitations", {"email": email, "role": role})
    assert response.status_code == 302
    return Invitation.objects.get(email__iexact=email)


def test_an_admin_invites_and_sees_the_link(user: Any, web: Client) -> None:
    web.get("/documents/")
    invitation = _invite(web, "Dana@Example.com", "editor")
    assert invitation.email == "dana@example.com" and invitation.role == "editor"
    assert len(invitation.token) >= 40
    page = web.get("/workspace/members/").content.decode()
    assert f"/invite/{invitation.token}/" in page


def test_a_new_account_signs_up_through_the_link(user: Any, web: Client) -> None:
    web.get("/documents/")
    invitation = _invite(web, "dana@example.com")
    guest = Client()
    link = f"/invite/{invitation.token}/"
    assert "Sign up and join" in guest.get(link).content.decode()
    response = guest.post(
        link, {"username": "dana", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302
    dana = get_user_model().objects.get(username="dana")
    assert dana.email == "dana@example.com"
    membership = Membership.objects.get(user=dana)
    assert membership.workspace == invitation.workspace
    assert membership.role == "viewer"
    # Logged in, in the invited workspace, as a viewer.
    page = guest.get("/documents/").content.decode()
    assert f"<h1>{escape(invitation.workspace.name)}</h1>" in page
    assert 'class="upload"' not in page
    # The link works once.
    assert Client().get(link).status_code == 404


def test_an_existing_account_accepts_after_logging_in(user: Any, web: Client) -> None:
    web.get("/documents/")
    invitation = _invite(web, "erin@example.com", "editor")
    erin = make_user(username="erin")
    erin_web = Client()
    assert (
        erin_web.post(
            "/login/",
            {
                "username": "erin",
                "password": PASSWORD,
                "next": f"/invite/{invitation.token}/",
            },
        )["Location"]
        == f"/invite/{invitation.token}/"
    )
    erin_web.post(f"/invite/{invitation.token}/")
    assert Membership.objects.get(user=erin, workspace=invitation.workspace).role == (
        "editor"
    )
    page = erin_web.get("/documents/").content.decode()
    assert f"<h1>{escape(invitation.workspace.name)}</h1>" in page
    assert 'class="upload"' in page


def test_a_member_keeps_the_higher_role(user: Any, workspace: Any) -> None:
    frank = make_user()
    join(frank, workspace, Membership.Role.EDITOR)
    invitation = Invitation.objects.create(
        workspace=workspace, email="f@example.com", role="viewer", token="t1"
    )
    teams.invitation_accept(invitation=invitation, user=frank)
    assert Membership.objects.get(user=frank, workspace=workspace).role == "editor"


def test_an_invitation_is_used_once(user: Any, workspace: Any) -> None:
    invitation = Invitation.objects.create(
        workspace=workspace, email="g@example.com", role="viewer", token="t2"
    )
    teams.invitation_accept(invitation=invitation, user=make_user())
    try:
        teams.invitation_accept(invitation=invitation, user=make_user())
    except teams.TeamError:
        pass
    else:
        raise AssertionError("a used invitation was accepted again")
    assert Membership.objects.filter(workspace=workspace).count() == 2


def test_bad_and_duplicate_invitations_are_refused(user: Any, web: Client) -> None:
    web.get("/documents/")
    web.post("/workspace/invitations", {"email": "not an email", "role": "viewer"})
    web.post("/workspace/invitations", {"email": user.email, "role": "viewer"})
    web.post("/workspace/invitations", {"email": "h@example.com", "role": "owner"})
    assert not Invitation.objects.exists()


def test_an_admin_withdraws_an_invitation(user: Any, web: Client) -> None:
    web.get("/documents/")
    invitation = _invite(web, "i@example.com")
    web.post(f"/workspace/invitations/{invitation.id}/revoke")
    assert not Invitation.objects.exists()
    assert Client().get(f"/invite/{invitation.token}/").status_code == 404
