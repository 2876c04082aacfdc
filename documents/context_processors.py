"""Template context shared by every page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def cairn(request: HttpRequest) -> dict[str, Any]:
    """Tell every page which mode answers and embeds."""
    return {
        "online_claude": bool(settings.ANTHROPIC_API_KEY),
        "online_voyage": bool(settings.VOYAGE_API_KEY),
        "claude_model": settings.CLAUDE_MODEL,
        "embedding_model": settings.EMBEDDING_MODEL,
        "max_upload_mb": settings.MAX_UPLOAD_MB,
    }
