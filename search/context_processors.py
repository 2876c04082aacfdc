"""Template context from the search app: the Claude model banner for staff."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from search import claude


def claude_model(request: HttpRequest) -> dict[str, Any]:
    """Staff see a banner when CLAUDE_MODEL is deprecated, retired or unknown."""
    user = getattr(request, "user", None)
    if not settings.ANTHROPIC_API_KEY or user is None or not user.is_staff:
        return {}
    # Lazy: the (cached) Models API is asked only by pages that render it.
    return {"claude_model_notice": SimpleLazyObject(_notice)}


def _notice() -> str:
    return claude.model_status().notice() or ""
