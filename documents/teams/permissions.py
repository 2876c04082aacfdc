"""Roles in a workspace and the checks views and API endpoints make with them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from documents.models import Membership, Workspace
from documents.selectors import workspace_for_request

VIEWER = Membership.Role.VIEWER
EDITOR = Membership.Role.EDITOR
ADMIN = Membership.Role.ADMIN

# Each role can do everything the roles before it can.
RANK = {VIEWER: 1, EDITOR: 2, ADMIN: 3}


def role_of(*, user: Any, workspace: Workspace) -> str | None:
    """The user's role in a workspace, or None for a non-member."""
    if not getattr(user, "is_authenticated", False):
        return None
    return (
        Membership.objects.filter(user=user, workspace=workspace)
        .values_list("role", flat=True)
        .first()
    )


def has_role(*, user: Any, workspace: Workspace, role: str) -> bool:
    """Whether the user holds `role` or a higher one in the workspace."""
    held = role_of(user=user, workspace=workspace)
    return held is not None and RANK[held] >= RANK[role]  # type: ignore[index]


def require_role(*, user: Any, workspace: Workspace, role: str) -> None:
    """Raise PermissionDenied (403) unless the user holds `role` or higher."""
    if not has_role(user=user, workspace=workspace, role=role):
        raise PermissionDenied(f"This needs the {role} role in {workspace.name}.")


View = Callable[..., HttpResponse]


def role_required(role: str) -> Callable[[View], View]:
    """Require `role` in the request's current workspace (pages and API alike)."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            workspace = workspace_for_request(request)
            require_role(user=request.user, workspace=workspace, role=role)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
