"""App configuration for documents."""

from __future__ import annotations

from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    """Workspaces, documents and their ingestion pipeline."""

    name = "documents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Connects the worker heartbeat to Celery's worker signals; in the web
        # process the signals never fire.
        from documents import workers  # noqa: F401
