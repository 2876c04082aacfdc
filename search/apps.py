"""App configuration for search."""

from __future__ import annotations

from django.apps import AppConfig


class SearchConfig(AppConfig):
    """Retrieval and cited answers."""

    name = "search"
    default_auto_field = "django.db.models.BigAutoField"
