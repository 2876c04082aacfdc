"""App configuration for documents."""

from __future__ import annotations

from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    """Workspaces, documents and their ingestion pipeline."""

    name = "documents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Importing workers connects the worker heartbeat to Celery's worker
        # signals (in the web process they never fire); importing checks
        # registers the start-up checks of the Voyage settings.
        from documents import checks, workers  # noqa: F401
