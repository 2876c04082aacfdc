"""Reads of answers, scoped to the user's workspaces."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, Subquery
from django.http import Http404

from documents.models import Workspace
from search.models import Answer, Conversation, Question


def answer_get_for_user(*, user: Any, code: Any) -> Answer:
    """An answer in one of the user's workspaces, or 404."""
    try:
        return (
            Answer.objects.select_related("question__conversation")
            .prefetch_related("citations__document")
            .get(code=code, question__workspace__memberships__user=user)
        )
    except (Answer.DoesNotExist, ValidationError, ValueError):
        raise Http404("No such answer.") from None


def conversation_for_user(*, user: Any, code: Any) -> Conversation | None:
    """The user's conversation named by code; None starts a new one."""
    if code is None or code == "":
        return None
    try:
        return Conversation.objects.get(code=code, user=user)
    except (Conversation.DoesNotExist, ValidationError, ValueError):
        raise Http404("No such conversation.") from None


def conversations_for_user(*, user: Any) -> list[Conversation]:
    """The user's conversations, most recently active first."""
    return list(Conversation.objects.filter(user=user).order_by("-updated")[:100])


def answer_codes(*, conversation: Conversation) -> list[str]:
    """The ids of a conversation's answers, oldest first."""
    answers = Answer.objects.filter(question__conversation=conversation)
    return [
        str(code) for code in answers.order_by("created").values_list("code", flat=True)
    ]


# Conversations ---------------------------------------------------------------


def conversation_history(conversation: Conversation) -> list[dict[str, Any]]:
    """Earlier turns as messages; each answer keeps its citations as quoted sources."""
    answers = list(
        Answer.objects.filter(question__conversation=conversation)
        .select_related("question")
        .prefetch_related("citations__document")
        .order_by("-created")[: settings.CONVERSATION_MAX_TURNS]
    )
    messages: list[dict[str, Any]] = []
    for answer in reversed(answers):
        messages.append({"role": "user", "content": answer.question.text})
        messages.append({"role": "assistant", "content": answer_with_sources(answer)})
    return messages


def answer_with_sources(answer: Answer) -> str:
    """An answer's text with [n] markers and the passages they cite."""
    citations = {c.ordinal: c for c in answer.citations.all()}
    text = (
        "".join(
            segment["text"] + "".join(f"[{n}]" for n in segment["citations"])
            for segment in answer.segments
        ).strip()
        or answer.text
    )
    if citations:
        sources = "\n".join(
            f'[{n}] {c.document.title}: "{c.cited_text}"'
            for n, c in sorted(citations.items())
        )
        text += "\n\nSources:\n" + sources
    return text


def previous_question(conversation: Conversation) -> str:
    """The conversation's last question before the one being asked, or ''."""
    answer = (
        Answer.objects.filter(question__conversation=conversation)
        .select_related("question")
        .order_by("-created")
        .first()
    )
    return answer.question.text if answer is not None else ""


def recent_conversations(
    *, user: Any, workspace: Workspace, limit: int
) -> list[Conversation]:
    """The user's latest conversations here, each once: its last question and answer.

    One list, where a "conversations" list and a "recent questions" list
    used to repeat each other (every question starts or continues one).
    """
    last = Question.objects.filter(conversation=OuterRef("pk")).order_by("-created")
    return list(
        Conversation.objects.filter(user=user, workspace=workspace)
        .annotate(
            turns=Count("questions"),
            last_text=Subquery(last.values("text")[:1]),
            last_answer=Subquery(
                Answer.objects.filter(question__conversation=OuterRef("pk"))
                .order_by("-created")
                .values("code")[:1]
            ),
        )
        .filter(last_answer__isnull=False)
        .order_by("-updated")[:limit]
    )
