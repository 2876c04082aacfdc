"""Who is calling an MCP tool: an API token's user, one workspace, and a role.

The tokens are the REST API's (documents/api_auth.py): hashed, revocable, and
acting as their user. A caller acts in one workspace: the one named by its code,
else the user's first, as the REST API chooses. The role check lives here, in
`require`, and every tool passes through it (mcpserver/tools.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from documents.api_auth import user_for_token
from documents.models import Workspace
from documents.selectors import workspace_by_code_for_user
from documents.services import workspace_default_for_user
from documents.teams.permissions import RANK, role_of


class AccessDenied(Exception):
    """The caller may not do this; the message is safe to show to the caller."""


@dataclass(frozen=True)
class Principal:
    """A token's user acting in one workspace with the role they hold there."""

    user: Any
    workspace: Workspace
    role: str


def principal_for(*, token: str, workspace_code: str | None = None) -> Principal:
    """Resolve a raw token (and optional workspace code), or raise AccessDenied."""
    user = user_for_token(token) if token else None
    if user is None:
        raise AccessDenied("The API token is missing, invalid or revoked.")
    if workspace_code:
        workspace = workspace_by_code_for_user(user=user, code=workspace_code)
        if workspace is None:
            # The same answer for a made-up code and another team's workspace.
            raise AccessDenied("No such workspace.")
    else:
        workspace = workspace_default_for_user(user=user)
    role = role_of(user=user, workspace=workspace)
    if role is None:
        raise AccessDenied("No such workspace.")
    return Principal(user=user, workspace=workspace, role=role)


def require(principal: Principal, role: str) -> None:
    """Raise AccessDenied unless the principal holds `role` or a higher one."""
    if RANK[principal.role] < RANK[role]:  # type: ignore[index]
        raise AccessDenied(
            f"This needs the {role} role in {principal.workspace.name}; "
            f"the token's user is a {principal.role}."
        )
