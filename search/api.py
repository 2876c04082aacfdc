"""REST API for search and ask."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from django.http import (
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from pydantic import BaseModel, Field

from documents.api_auth import ApiError, api_view, json_body
from documents.models import Workspace
from documents.selectors import document_ids_for_filter, workspace_for_request
from documents.teams.permissions import VIEWER, require_role
from project.api_spec import (
    FORBIDDEN,
    INVALID,
    NOT_FOUND,
    UNAUTHENTICATED,
    Response,
    operation,
)
from search import answering, selectors, services
from search.retrieval import chunk_search

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 4000


class ScopeIn(BaseModel):
    """Limits a search or question to some documents (by id and/or tag)."""

    document_ids: list[str] | None = Field(
        None, description="Only these documents (ids you cannot see are ignored)."
    )
    tags: list[str] | None = Field(None, description="Only documents with a tag.")


class SearchIn(ScopeIn):
    """A hybrid (dense + full-text) search."""

    query: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    top_k: int = Field(10, ge=1, le=100)


class SearchHitOut(BaseModel):
    """A retrieved chunk; text == document text[start_char:end_char]."""

    chunk_id: int
    document_id: str
    document_title: str
    text: str
    score: float
    start_char: int
    end_char: int
    page: int | None


class SearchOut(BaseModel):
    """Search results, best first."""

    results: list[SearchHitOut]


class AskIn(ScopeIn):
    """A question; `conversation_id` continues a conversation."""

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    conversation_id: str | None = None


class SegmentOut(BaseModel):
    """A stretch of answer text and the ordinals of the citations behind it."""

    text: str
    citations: list[int]


class CitationOut(BaseModel):
    """A cited passage mapped back to its document (and chunk, if it still exists)."""

    ordinal: int
    kind: str = Field(
        description=(
            "char_location | page_location | content_block_location | "
            "search_result_location"
        )
    )
    document_id: str
    document_title: str
    chunk_id: int | None
    cited_text: str
    start_char: int | None
    end_char: int | None
    start_page: int | None
    end_page: int | None


class WebFetchOut(BaseModel):
    """A web page Claude fetched while answering."""

    url: str
    title: str | None = None
    retrieved_at: str | None = None
    error_code: str | None = None


class AnswerOut(BaseModel):
    """A stored answer with its citations, usage and cost."""

    id: str
    question: str
    answer: str
    mode: str = Field(description="claude | offline")
    model: str | None
    segments: list[SegmentOut]
    citations: list[CitationOut]
    conversation_id: str | None
    context_mode: str | None = Field(description="files | chunks")
    usage: dict[str, int]
    cost_usd: str = Field(description="Estimated, as a decimal string.")
    latency_ms: int
    web_fetches: list[WebFetchOut]


class FeedbackIn(BaseModel):
    """Whether an answer helped, with an optional comment."""

    helpful: bool
    comment: str = Field("", max_length=services.MAX_COMMENT_CHARS)


class FeedbackOut(BaseModel):
    """The feedback as stored."""

    answer_id: str
    helpful: bool
    comment: str


class ConversationOut(BaseModel):
    """A conversation and its answers' ids, oldest first."""

    id: str
    title: str
    updated: str
    answers: list[str]


class ConversationList(BaseModel):
    """The user's conversations, latest first."""

    conversations: list[ConversationOut]


SSE_SCHEMA: dict[str, Any] = {
    "type": "string",
    "description": (
        "Server-Sent Events: `event: <name>` and one JSON `data:` line each; "
        "the last event is `done` (with the stored answer) or `error`."
    ),
}


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "invalid_request", f"'{name}' must be a non-empty string.")
    if len(value) > MAX_QUESTION_CHARS:
        raise ApiError(
            400,
            "invalid_request",
            f"'{name}' is longer than {MAX_QUESTION_CHARS} characters.",
        )
    return value.strip()


def _string_list(body: dict[str, Any], name: str) -> list[str] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(400, "invalid_request", f"'{name}' must be a list of strings.")
    return value


def _scope(
    request: HttpRequest, body: dict[str, Any]
) -> tuple[Workspace, list[str] | None]:
    """The workspace (viewer or higher) and the document ids a request names."""
    workspace = workspace_for_request(request)
    require_role(user=request.user, workspace=workspace, role=VIEWER)
    document_ids = document_ids_for_filter(
        user=request.user,
        workspace=workspace,
        document_ids=_string_list(body, "document_ids"),
        tags=_string_list(body, "tags"),
    )
    return workspace, document_ids


@operation(
    "POST",
    "Hybrid search over the workspace's chunks",
    tag="search",
    workspace=True,
    request=SearchIn,
    responses={
        200: Response("The best chunks.", SearchOut),
        400: INVALID,
        401: UNAUTHENTICATED,
        403: FORBIDDEN,
        404: NOT_FOUND,
    },
)
@api_view(("POST",))
def search(request: HttpRequest) -> HttpResponse:
    """Hybrid search over the workspace's chunks."""
    body = json_body(request)
    query = _text(body, "query")
    top_k = body.get("top_k", 10)
    if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= 100:
        raise ApiError(
            400, "invalid_request", "'top_k' must be an integer from 1 to 100."
        )
    workspace, document_ids = _scope(request, body)
    hits = chunk_search(
        workspace_id=workspace.id,
        query=query,
        top_k=top_k,
        document_ids=document_ids,
    )
    results = []
    for hit in hits:
        row = asdict(hit)
        row.pop("ordinal")
        results.append(row)
    return JsonResponse({"results": results})


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


@operation(
    "POST",
    "Answer a question with citations",
    description=(
        "Answers from the workspace's documents. With `Accept: text/event-stream` "
        "the answer streams as Server-Sent Events."
    ),
    tag="ask",
    workspace=True,
    request=AskIn,
    responses={
        200: Response(
            "The stored answer (or its event stream).",
            AnswerOut,
            alternatives={"text/event-stream": SSE_SCHEMA},
        ),
        400: INVALID,
        401: UNAUTHENTICATED,
        403: FORBIDDEN,
        404: NOT_FOUND,
    },
)
@api_view(("POST",))
def ask(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """Answer a question from the workspace's documents, with citations.

    With `Accept: text/event-stream` the answer streams as Server-Sent Events.
    """
    body = json_body(request)
    question = _text(body, "question")
    workspace, document_ids = _scope(request, body)
    conversation = selectors.conversation_for_user(
        user=request.user, code=body.get("conversation_id")
    )
    if conversation is not None and conversation.workspace_id != workspace.id:
        raise ApiError(404, "not_found", "No such conversation in this workspace.")
    if "text/event-stream" in request.headers.get("Accept", ""):
        return streaming(
            answering.answer_events(
                workspace=workspace,
                user=request.user,
                text=question,
                document_ids=document_ids,
                conversation=conversation,
            )
        )
    answer = answering.answer_question(
        workspace=workspace,
        user=request.user,
        text=question,
        document_ids=document_ids,
        conversation=conversation,
    )
    answer = selectors.answer_get_for_user(user=request.user, code=answer.code)
    return JsonResponse(selectors.answer_json(answer))


@operation(
    "GET",
    "A stored answer",
    tag="ask",
    responses={
        200: Response("The answer.", AnswerOut),
        401: UNAUTHENTICATED,
        404: NOT_FOUND,
    },
)
@api_view(("GET",))
def answer_detail(request: HttpRequest, code: str) -> HttpResponse:
    """A stored answer with its citations."""
    answer = selectors.answer_get_for_user(user=request.user, code=code)
    return JsonResponse(selectors.answer_json(answer))


@operation(
    "POST",
    "Say whether an answer helped",
    tag="ask",
    request=FeedbackIn,
    responses={
        200: Response("The feedback as stored.", FeedbackOut),
        400: INVALID,
        401: UNAUTHENTICATED,
        404: NOT_FOUND,
    },
)
@api_view(("POST",))
def answer_feedback(request: HttpRequest, code: str) -> HttpResponse:
    """Mark an answer helpful or not, with an optional comment."""
    answer = selectors.answer_get_for_user(user=request.user, code=code)
    body = json_body(request)
    helpful = body.get("helpful")
    if not isinstance(helpful, bool):
        raise ApiError(400, "invalid_request", "'helpful' must be true or false.")
    comment = body.get("comment", "")
    if not isinstance(comment, str) or len(comment) > services.MAX_COMMENT_CHARS:
        raise ApiError(
            400,
            "invalid_request",
            f"'comment' must be a string of at most "
            f"{services.MAX_COMMENT_CHARS} characters.",
        )
    feedback = services.feedback_record(
        answer=answer, user=request.user, helpful=helpful, comment=comment
    )
    return JsonResponse(
        {
            "answer_id": str(answer.code),
            "helpful": feedback.helpful,
            "comment": feedback.comment,
        }
    )


@operation(
    "GET",
    "Your conversations",
    tag="ask",
    responses={
        200: Response("The conversations.", ConversationList),
        401: UNAUTHENTICATED,
    },
)
@api_view(("GET",))
def conversations(request: HttpRequest) -> HttpResponse:
    """The user's conversations, latest first."""
    return JsonResponse(
        {"conversations": selectors.conversations_json(user=request.user)}
    )
