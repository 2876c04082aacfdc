"""Start-up checks: the configured Claude model must be one the API still serves."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from search import claude

log = logging.getLogger(__name__)


@register("claude")
def claude_model_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Refuse a retired or unknown CLAUDE_MODEL; warn about a deprecated one.

    Online mode only: offline, no model is asked anything. The Models API
    answer is cached, so a restart does not list the models again.
    """
    if not settings.ANTHROPIC_API_KEY:
        return []
    status = claude.model_status()
    notice = status.notice() or ""
    if status.lifecycle == "unchecked":
        return [
            Warning(
                f"Could not check CLAUDE_MODEL={status.id} against the Models API: "
                f"{status.error}",
                id="search.W002",
            )
        ]
    if not status.usable:
        return [
            Error(
                notice,
                hint="Set CLAUDE_MODEL to an active model (see the admin health "
                "page or GET /v1/models).",
                id="search.E001",
            )
        ]
    if status.lifecycle == "deprecated":
        log.warning("CLAUDE_MODEL: %s", notice)
        return [Warning(notice, id="search.W001")]
    return []
