"""The Celery application; tasks are discovered in the apps."""

from __future__ import annotations

import os

from celery import Celery

# Connects the task signals that put the document id on ingestion's log lines
# and Celery's logging hooks that make its lines JSON under LOG_FORMAT=json.
from project import logs  # noqa: F401

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("cairn")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
