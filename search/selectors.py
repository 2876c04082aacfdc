"""Reads of answers, scoped to the user's workspaces."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404

from search.models import Answer


def answer_get_for_user(*, user: Any, code: Any) -> Answer:
    """An answer in one of the user's workspaces, or 404."""
    try:
        return (
            Answer.objects.select_related("question")
            .prefetch_related("citations__document")
            .get(code=code, question__workspace__memberships__user=user)
        )
    except (Answer.DoesNotExist, ValidationError, ValueError):
        raise Http404("No such answer.") from None


def answer_json(answer: Answer) -> dict[str, Any]:
    """The API's view of an answer and its citations."""
    return {
        "id": str(answer.code),
        "question": answer.question.text,
        "answer": answer.text,
        "mode": answer.mode,
        "model": answer.model or None,
        "segments": answer.segments,
        "citations": [
            {
                "ordinal": c.ordinal,
                "kind": c.kind,
                "document_id": str(c.document_id),
                "document_title": c.document.title,
                "chunk_id": c.chunk_id,
                "cited_text": c.cited_text,
                "start_char": c.start_char,
                "end_char": c.end_char,
                "start_page": c.start_page,
                "end_page": c.end_page,
            }
            for c in answer.citations.all()
        ],
        "usage": answer.usage,
        "latency_ms": answer.latency_ms,
        "web_fetches": answer.web_fetches,
    }
