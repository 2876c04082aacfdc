"""App configuration for search."""

from __future__ import annotations

from django.apps import AppConfig


class SearchConfig(AppConfig):
    """Retrieval and cited answers."""

    name = "search"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registering the checks imports search.claude, which needs settings:
        # only possible once the apps are loaded, hence the import here.
        from search import checks  # noqa: F401
