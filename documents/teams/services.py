"""Writes for teams: workspaces, invitations, roles, removing members, API tokens."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from documents.models import ApiToken, Invitation, Membership, Workspace
from documents.teams.permissions import RANK


class TeamError(Exception):
    """A team change refused with a reason the user can read."""


def invitation_create(
    *, workspace: Workspace, email: str, role: str, invited_by: Any
) -> Invitation:
    """Create a pending membership for an email address; its token is the link."""
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise TeamError("Enter a valid email address.") from exc
    if role not in Membership.Role.values:
        raise TeamError(f"Unknown role {role!r}.")
    if Membership.objects.filter(
        workspace=workspace, user__email__iexact=email
    ).exists():
        raise TeamError(f"{email} is already a member of {workspace.name}.")
    return Invitation.objects.create(
        workspace=workspace,
        email=email,
        role=role,
        token=secrets.token_urlsafe(32),
        invited_by=invited_by,
    )


def invitation_accept(*, invitation: Invitation, user: Any) -> Membership:
    """Turn a pending invitation into a membership of `user`.

    The row is locked so one link cannot be accepted twice by two accounts
    racing each other. An existing member keeps the higher of the two roles.
    """
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().get(id=invitation.id)
        if locked.accepted is not None:
            raise TeamError("This invitation was already used.")
        membership, created = Membership.objects.get_or_create(
            user=user, workspace=locked.workspace, defaults={"role": locked.role}
        )
        if not created and RANK[locked.role] > RANK[membership.role]:  # type: ignore[index]
            membership.role = locked.role
            membership.save(update_fields=["role"])
        locked.accepted = timezone.now()
        locked.accepted_by = user
        locked.save(update_fields=["accepted", "accepted_by"])
    return membership


def invitation_revoke(*, invitation: Invitation) -> None:
    """Delete a pending invitation so its link stops working."""
    invitation.delete()


def _last_admin(membership: Membership) -> bool:
    return (
        membership.role == Membership.Role.ADMIN
        and not Membership.objects.filter(
            workspace_id=membership.workspace_id, role=Membership.Role.ADMIN
        )
        .exclude(id=membership.id)
        .exists()
    )


def membership_set_role(*, membership: Membership, role: str) -> None:
    """Change a member's role; a workspace always keeps one admin."""
    if role not in Membership.Role.values:
        raise TeamError(f"Unknown role {role!r}.")
    with transaction.atomic():
        # Lock the workspace's admins so two demotions cannot both pass the check.
        list(
            Membership.objects.select_for_update().filter(
                workspace_id=membership.workspace_id, role=Membership.Role.ADMIN
            )
        )
        if role != Membership.Role.ADMIN and _last_admin(membership):
            raise TeamError("A workspace needs at least one admin.")
        membership.role = role
        membership.save(update_fields=["role"])


def membership_remove(*, membership: Membership) -> None:
    """Remove a member from a workspace; the last admin cannot be removed."""
    with transaction.atomic():
        list(
            Membership.objects.select_for_update().filter(
                workspace_id=membership.workspace_id, role=Membership.Role.ADMIN
            )
        )
        if _last_admin(membership):
            raise TeamError("A workspace needs at least one admin.")
        membership.delete()


def workspace_create(*, name: str, owner: Any) -> Workspace:
    """Create a workspace with `owner` as its admin."""
    name = name.strip()
    if not name or len(name) > 200:
        raise TeamError("Name the workspace (up to 200 characters).")
    with transaction.atomic():
        workspace = Workspace.objects.create(name=name)
        Membership.objects.create(
            user=owner, workspace=workspace, role=Membership.Role.ADMIN
        )
    return workspace


def token_revoke(*, user: Any, token_id: int) -> bool:
    """Revoke one of the user's own tokens; False when there is none such."""
    updated = ApiToken.objects.filter(
        id=token_id, user=user, revoked__isnull=True
    ).update(revoked=timezone.now())
    return updated == 1
