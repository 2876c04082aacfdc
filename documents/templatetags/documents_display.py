"""Template filters for how documents read: type names, badges, failures."""

from __future__ import annotations

from django import template

from documents import display, queue
from documents.models import Document

register = template.Library()


@register.filter
def kind_name(mime_type: str) -> str:
    """'PDF' for application/pdf, and so on."""
    return display.kind_name(mime_type)


@register.filter
def files_api_badge(document: Document) -> display.Badge:
    """The Files API state as a short badge with its detail."""
    return display.files_api_badge(document)


@register.filter
def failure(document: Document) -> display.Failure | None:
    """A failed document's plain message and whether a retry can help."""
    return display.failure(document)


@register.filter
def waits_for_queue(document: Document) -> bool:
    """Whether the broker refused the document's task (it is sent again later)."""
    return document.stage == queue.WAITING_FOR_QUEUE
