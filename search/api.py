"""REST API for search and ask."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Annotated, Any

from django.http import HttpRequest, StreamingHttpResponse
from ninja import Router
from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from documents.models import Workspace
from documents.selectors import document_ids_for_filter, workspace_for_request
from documents.teams.permissions import VIEWER, require_role
from project.api_spec import WORKSPACE, ApiError, RequestBody, errors
from search import answering, selectors, services
from search.retrieval import chunk_search
from search.schemas import (
    AnswerOut,
    ConversationList,
    ConversationOut,
    FeedbackOut,
    SearchHitOut,
    SearchOut,
)

log = logging.getLogger(__name__)

router = Router()

MAX_QUESTION_CHARS = 4000


def _not_blank(text: str) -> str:
    if not text.strip():
        raise PydanticCustomError("blank", "String should not be blank")
    return text.strip()


# A query or question: not blank, used without its surrounding spaces.
Text = Annotated[
    str, Field(min_length=1, max_length=MAX_QUESTION_CHARS), AfterValidator(_not_blank)
]


class ScopeIn(RequestBody):
    """Limits a search or question to some documents (by id and/or tag)."""

    document_ids: list[str] | None = Field(
        None, description="Only these documents (ids you cannot see are ignored)."
    )
    tags: list[str] | None = Field(None, description="Only documents with a tag.")


class SearchIn(ScopeIn):
    """A hybrid (dense + full-text) search."""

    query: Text
    top_k: int = Field(10, ge=1, le=100)


class AskIn(ScopeIn):
    """A question; `conversation_id` continues a conversation."""

    question: Text
    conversation_id: str | None = None


class FeedbackIn(RequestBody):
    """Whether an answer helped, with an optional comment."""

    helpful: bool
    comment: str = Field("", max_length=services.MAX_COMMENT_CHARS)


SSE_SCHEMA: dict[str, Any] = {
    "type": "string",
    "description": (
        "Server-Sent Events: `event: <name>` and one JSON `data:` line each; "
        "the last event is `done` (with the stored answer) or `error`."
    ),
}


def _scope(request: HttpRequest, body: ScopeIn) -> tuple[Workspace, list[str] | None]:
    """The workspace (viewer or higher) and the document ids a request names."""
    workspace = workspace_for_request(request)
    require_role(user=request.user, workspace=workspace, role=VIEWER)
    document_ids = document_ids_for_filter(
        user=request.user,
        workspace=workspace,
        document_ids=body.document_ids,
        tags=body.tags,
    )
    return workspace, document_ids


@router.post(
    "search",
    url_name="api-search",
    summary="Hybrid search over the workspace's chunks",
    tags=["search"],
    response={200: SearchOut, **errors(400, 401, 403, 404)},
    openapi_extra=WORKSPACE,
)
def search(request: HttpRequest, body: SearchIn) -> SearchOut:
    """Hybrid search over the workspace's chunks."""
    workspace, document_ids = _scope(request, body)
    hits = chunk_search(
        workspace_id=workspace.id,
        query=body.query,
        top_k=body.top_k,
        document_ids=document_ids,
    )
    return SearchOut(
        results=[SearchHitOut.model_validate(hit, from_attributes=True) for hit in hits]
    )


def sse(events: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    """Server-Sent Events: one `event:` and one JSON `data:` line per event."""
    try:
        for event in events:
            data = json.dumps(event["data"], separators=(",", ":"))
            yield f"event: {event['event']}\ndata: {data}\n\n".encode()
    except Exception:
        # The status line is long gone; say so in the stream instead.
        log.exception("streamed answer failed")
        data = json.dumps({"message": "The answer could not be completed."})
        yield f"event: error\ndata: {data}\n\n".encode()


def streaming(events: Iterator[dict[str, Any]]) -> StreamingHttpResponse:
    """A text/event-stream response that proxies do not buffer."""
    response = StreamingHttpResponse(sse(events), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


@router.post(
    "ask",
    url_name="api-ask",
    summary="Answer a question with citations",
    description=(
        "Answers from the workspace's documents. With `Accept: text/event-stream` "
        "the answer streams as Server-Sent Events."
    ),
    tags=["ask"],
    response={200: AnswerOut, **errors(400, 401, 403, 404)},
    openapi_extra=WORKSPACE
    | {"responses": {200: {"content": {"text/event-stream": {"schema": SSE_SCHEMA}}}}},
)
def ask(request: HttpRequest, body: AskIn) -> AnswerOut | StreamingHttpResponse:
    """Answer a question from the workspace's documents, with citations.

    With `Accept: text/event-stream` the answer streams as Server-Sent Events.
    """
    workspace, document_ids = _scope(request, body)
    conversation = selectors.conversation_for_user(
        user=request.user, code=body.conversation_id
    )
    if conversation is not None and conversation.workspace_id != workspace.id:
        raise ApiError(404, "not_found", "No such conversation in this workspace.")
    if "text/event-stream" in request.headers.get("Accept", ""):
        return streaming(
            answering.answer_events(
                workspace=workspace,
                user=request.user,
                text=body.question,
                document_ids=document_ids,
                conversation=conversation,
            )
        )
    answer = answering.answer_question(
        workspace=workspace,
        user=request.user,
        text=body.question,
        document_ids=document_ids,
        conversation=conversation,
    )
    answer = selectors.answer_get_for_user(user=request.user, code=answer.code)
    return AnswerOut.of(answer)


@router.get(
    "answers/{code}",
    url_name="api-answer",
    summary="A stored answer",
    tags=["ask"],
    response={200: AnswerOut, **errors(401, 404)},
)
def answer_detail(request: HttpRequest, code: str) -> AnswerOut:
    """A stored answer with its citations."""
    return AnswerOut.of(selectors.answer_get_for_user(user=request.user, code=code))


@router.post(
    "answers/{code}/feedback",
    url_name="api-answer-feedback",
    summary="Say whether an answer helped",
    tags=["ask"],
    response={200: FeedbackOut, **errors(400, 401, 404)},
)
def answer_feedback(request: HttpRequest, code: str, body: FeedbackIn) -> FeedbackOut:
    """Mark an answer helpful or not, with an optional comment."""
    answer = selectors.answer_get_for_user(user=request.user, code=code)
    feedback = services.feedback_record(
        answer=answer, user=request.user, helpful=body.helpful, comment=body.comment
    )
    return FeedbackOut(
        answer_id=str(answer.code), helpful=feedback.helpful, comment=feedback.comment
    )


@router.get(
    "conversations",
    url_name="api-conversations",
    summary="Your conversations",
    tags=["ask"],
    response={200: ConversationList, **errors(401)},
)
def conversations(request: HttpRequest) -> ConversationList:
    """The user's conversations, latest first."""
    return ConversationList(
        conversations=[
            ConversationOut.of(c, selectors.answer_codes(conversation=c))
            for c in selectors.conversations_for_user(user=request.user)
        ]
    )
