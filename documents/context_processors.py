"""Template context shared by every page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def cairn(request: HttpRequest) -> dict[str, Any]:
    """Tell every page which mode answers and embeds."""
    from documents.files_services import files_api_pause

    user = getattr(request, "user", None)
    pause = files_api_pause() if user is not None and user.is_staff else None
    return {
        # Staff see why uploads to the Files API stopped (storage full).
        "files_api_pause": pause,
        "online_claude": bool(settings.ANTHROPIC_API_KEY),
        "online_voyage": bool(settings.VOYAGE_API_KEY),
        "claude_model": settings.CLAUDE_MODEL,
        "embedding_model": settings.EMBEDDING_MODEL,
        "max_upload_mb": settings.MAX_UPLOAD_MB,
    }
