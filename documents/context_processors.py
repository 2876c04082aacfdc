"""Template context shared by every page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest
from django.utils.functional import SimpleLazyObject

from documents.models import EmbeddingSpace
from documents.remote.embeddings import is_offline_model
from documents.remote.files import files_api_pause
from documents.selectors import workspace_for_request, workspaces_for_user
from documents.teams.permissions import role_of


def cairn(request: HttpRequest) -> dict[str, Any]:
    """Tell every page which mode answers and embeds."""
    user = getattr(request, "user", None)
    pause = files_api_pause() if user is not None and user.is_staff else None
    return {
        # Staff see why uploads to the Files API stopped (storage full).
        "files_api_pause": pause,
        "online_claude": bool(settings.ANTHROPIC_API_KEY),
        "claude_model": settings.CLAUDE_MODEL,
        "max_upload_mb": settings.MAX_UPLOAD_MB,
        # Lazy: only pages that show the header's mode badges query the spaces.
        "embedding": SimpleLazyObject(_embedding_spaces),
    } | _team(request)


def _embedding_spaces() -> dict[str, Any]:
    """The space search uses now, and the one being built to replace it.

    The header tells what search really uses: during a switch that is still
    the old space, whatever the settings already ask for.
    """
    Status = EmbeddingSpace.Status
    live = {
        status: (name, model)
        for status, name, model in EmbeddingSpace.objects.filter(
            status__in=(Status.ACTIVE, Status.BUILDING)
        ).values_list("status", "name", "model")
    }
    active_name, active_model = live.get(Status.ACTIVE, ("", ""))
    building_name, _ = live.get(Status.BUILDING, ("", ""))
    return {
        "online": (
            not is_offline_model(active_model)
            if active_name
            else bool(settings.VOYAGE_API_KEY)
        ),
        "space": active_name,
        "switch": building_name,
    }


def _team(request: HttpRequest) -> dict[str, Any]:
    """The user's workspaces, the current one and the user's role in it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    try:
        current = workspace_for_request(request)
    except Http404:
        return {}
    return {
        "current_workspace": current,
        "current_role": role_of(user=user, workspace=current),
        "user_workspaces": list(workspaces_for_user(user=user).order_by("name")),
    }
