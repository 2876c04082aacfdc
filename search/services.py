"""Writes for answers beyond answering itself: feedback."""

from __future__ import annotations

from typing import Any

from search.models import Answer, Feedback

MAX_COMMENT_CHARS = 2000


def feedback_record(
    *, answer: Answer, user: Any, helpful: bool, comment: str = ""
) -> Feedback:
    """Store (or replace) the user's verdict on an answer."""
    feedback, _ = Feedback.objects.update_or_create(
        answer=answer,
        user=user,
        defaults={"helpful": helpful, "comment": comment.strip()[:MAX_COMMENT_CHARS]},
    )
    return feedback
