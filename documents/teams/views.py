"""Pages for teams: switching workspaces, members, invitations, API tokens."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from documents import selectors
from documents.api_auth import token_create
from documents.models import ApiToken, Membership
from documents.teams import services as teams
from documents.teams.permissions import ADMIN, require_role, role_required


@login_required
@require_POST
def workspace_switch(request: HttpRequest) -> HttpResponse:
    """Make another of the user's workspaces the current one for pages."""
    code = request.POST.get("workspace", "")
    workspace = selectors.workspace_by_code_for_user(user=request.user, code=code)
    if workspace is None:
        raise Http404("No such workspace.")
    request.session[selectors.SESSION_KEY] = str(workspace.code)
    return redirect("documents:list")


@login_required
@require_POST
def workspace_create(request: HttpRequest) -> HttpResponse:
    """Create a workspace with the user as its admin, and switch to it."""
    try:
        workspace = teams.workspace_create(
            name=request.POST.get("name", ""), owner=request.user
        )
    except teams.TeamError as exc:
        messages.error(request, str(exc))
        return redirect("team:members")
    request.session[selectors.SESSION_KEY] = str(workspace.code)
    messages.success(request, f"Created {workspace.name}.")
    return redirect("documents:list")


def _admin_workspace(request: HttpRequest) -> Any:
    workspace = selectors.workspace_for_request(request)
    require_role(user=request.user, workspace=workspace, role=ADMIN)
    return workspace


@login_required
@require_GET
@role_required(ADMIN)
def members(request: HttpRequest) -> HttpResponse:
    """The current workspace's members and pending invitations (admins only)."""
    workspace = selectors.workspace_for_request(request)
    invitations = [
        (
            invitation,
            request.build_absolute_uri(reverse("team:accept", args=[invitation.token])),
        )
        for invitation in selectors.invitations_pending(workspace=workspace)
    ]
    return render(
        request,
        "documents/members.html",
        {
            "workspace": workspace,
            "members": selectors.memberships_for_workspace(workspace=workspace),
            "invitations": invitations,
            "roles": Membership.Role.values,
        },
    )


def _membership(request: HttpRequest, membership_id: int) -> Membership:
    workspace = _admin_workspace(request)
    membership = Membership.objects.filter(
        id=membership_id, workspace=workspace
    ).first()
    if membership is None:
        raise Http404("No such member.")
    return membership


@login_required
@require_POST
def member_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    """Change a member's role."""
    membership = _membership(request, membership_id)
    try:
        teams.membership_set_role(
            membership=membership, role=request.POST.get("role", "")
        )
    except teams.TeamError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{membership.user} is now {membership.role}.")
    return redirect("team:members")


@login_required
@require_POST
def member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    """Remove a member from the workspace."""
    membership = _membership(request, membership_id)
    try:
        teams.membership_remove(membership=membership)
    except teams.TeamError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{membership.user} was removed.")
    return redirect("team:members")


@login_required
@require_POST
def invite(request: HttpRequest) -> HttpResponse:
    """Invite an email address; the page then shows the link to pass on."""
    workspace = _admin_workspace(request)
    try:
        invitation = teams.invitation_create(
            workspace=workspace,
            email=request.POST.get("email", ""),
            role=request.POST.get("role", Membership.Role.VIEWER),
            invited_by=request.user,
        )
    except teams.TeamError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"Invited {invitation.email} as {invitation.role}; "
            "pass on the link below (no email is sent).",
        )
    return redirect("team:members")


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    """Withdraw a pending invitation."""
    workspace = _admin_workspace(request)
    invitation = selectors.invitations_pending(workspace=workspace).filter(
        id=invitation_id
    )
    if not invitation.exists():
        raise Http404("No such invitation.")
    invitation.delete()
    messages.success(request, "Invitation withdrawn.")
    return redirect("team:members")


def accept(request: HttpRequest, token: str) -> HttpResponse:
    """An invitation link: log in or sign up, then join the workspace."""
    invitation = selectors.invitation_by_token(token=token)
    form: UserCreationForm[Any] = UserCreationForm(
        initial={"username": invitation.email.split("@")[0]}
    )
    if request.method == "POST":
        if request.user.is_authenticated:
            user: Any = request.user
        else:
            form = UserCreationForm(request.POST)
            if not form.is_valid():
                return render(
                    request,
                    "documents/accept.html",
                    {"invitation": invitation, "form": form},
                )
            user = form.save()
            get_user_model().objects.filter(pk=user.pk).update(email=invitation.email)
            # Two backends are configured (django-axes' throttle first), so the
            # one that checks passwords is named for the new user's session.
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        try:
            teams.invitation_accept(invitation=invitation, user=user)
        except teams.TeamError as exc:
            messages.error(request, str(exc))
            return redirect("documents:list")
        request.session[selectors.SESSION_KEY] = str(invitation.workspace.code)
        messages.success(request, f"You joined {invitation.workspace.name}.")
        return redirect("documents:list")
    return render(
        request, "documents/accept.html", {"invitation": invitation, "form": form}
    )


@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    """The user's API tokens: create (shown once), list, revoke."""
    new_token = None
    user: Any = request.user
    if request.method == "POST":
        name = request.POST.get("name", "").strip()[:100] or "token"
        new_token = token_create(user=request.user, name=name)
    rows = ApiToken.objects.filter(user=user).order_by("revoked", "-created")
    return render(
        request,
        "documents/tokens.html",
        {
            "tokens": rows,
            "new_token": new_token,
            "workspaces": selectors.workspaces_for_user(user=request.user),
        },
    )


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    """Revoke one of the user's tokens."""
    if not teams.token_revoke(user=request.user, token_id=token_id):
        raise Http404("No such token.")
    messages.success(request, "Token revoked.")
    return redirect("team:tokens")
