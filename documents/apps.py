"""App configuration for documents."""

from __future__ import annotations

from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    """Workspaces, documents and their ingestion pipeline."""

    name = "documents"
    default_auto_field = "django.db.models.BigAutoField"
