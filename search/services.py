"""Writes for answers: storing a cited answer, and feedback on it."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from documents.models import Workspace
from search import code_execution
from search.citations import Result
from search.models import Answer, Citation, Conversation, Feedback, Question
from search.retrieval import Hit
from search.usage import answer_cost

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


def answer_store(
    workspace: Workspace,
    user: Any,
    text: str,
    hits: list[Hit],
    result: Result,
    latency_ms: int,
    conversation: Conversation | None = None,
) -> Answer:
    """Store a question, its answer, its segments and its citations at once."""
    with transaction.atomic():
        question = Question.objects.create(
            workspace=workspace, user=user, text=text, conversation=conversation
        )
        if conversation is not None:
            conversation.save(update_fields=["updated"])
        stored_segments: list[dict[str, Any]] = []
        citations: list[Citation] = []
        for segment in result.segments:
            ordinals = []
            for data in segment.citations:
                ordinal = len(citations) + 1
                ordinals.append(ordinal)
                citations.append(
                    Citation(
                        ordinal=ordinal,
                        kind=data.kind,
                        document=data.document,
                        chunk_id=data.chunk_id,
                        cited_text=data.cited_text,
                        start_char=data.start_char,
                        end_char=data.end_char,
                        start_page=data.start_page,
                        end_page=data.end_page,
                    )
                )
            stored: dict[str, Any] = {"text": segment.text, "citations": ordinals}
            if segment.web:
                stored["web"] = segment.web
            stored_segments.append(stored)
        answer = Answer.objects.create(
            question=question,
            mode=result.mode,
            model=result.model,
            text="".join(segment.text for segment in result.segments).strip(),
            segments=stored_segments,
            retrieved_chunk_ids=[hit.chunk_id for hit in hits],
            latency_ms=latency_ms,
            web_fetches=result.web_fetches,
            code_runs=result.code_runs,
            images_sent=result.images_sent,
            context_mode=result.context_mode,
            cost_usd=answer_cost(result.model, result.usage),
            **result.usage,
        )
        for citation in citations:
            citation.answer = answer
        Citation.objects.bulk_create(citations)
        code_execution.store_outputs(answer, result.code_outputs)
    return answer
