"""Cited answers: retrieve, answer with Claude or offline, stream, and store.

The jobs live apart: search.citations (what an answer holds, and mapping
Claude's citations), search.claude_answer (the Claude call and its stream),
search.offline (the offline answerer), search.services (storage) and
search.selectors (a conversation's history).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from documents.models import Workspace
from documents.remote import files_api
from project import metrics
from search import code_execution, selectors, services, web_fetch
from search.citations import NOT_FOUND, Part, Result, Segment, citation_json
from search.claude_answer import claude_parts
from search.models import Answer, Conversation
from search.offline import is_follow_up, offline_parts, spelled_out
from search.retrieval import chunk_search, default_top_k, term_idf


def answer_question(
    *,
    workspace: Workspace,
    user: Any,
    text: str,
    document_ids: list[str] | None = None,
    conversation: Conversation | None = None,
) -> Answer:
    """Retrieve, answer (Claude or offline), and store the cited answer."""
    answer_id = ""
    for event in answer_events(
        workspace=workspace,
        user=user,
        text=text,
        document_ids=document_ids,
        conversation=conversation,
    ):
        if event["event"] == "done":
            answer_id = event["data"]["answer_id"]
    return Answer.objects.get(code=answer_id)


def answer_events(
    *,
    workspace: Workspace,
    user: Any,
    text: str,
    document_ids: list[str] | None = None,
    conversation: Conversation | None = None,
) -> Iterator[dict[str, Any]]:
    """Answer as a stream of events: start, text, citation..., done (stored answer)."""
    started = time.monotonic()
    if conversation is None:
        conversation = Conversation.objects.create(
            workspace=workspace, user=user, title=text[:200]
        )
    yield {"event": "start", "data": {"conversation_id": str(conversation.code)}}
    history = selectors.conversation_history(conversation)
    previous = selectors.previous_question(conversation)
    hits = chunk_search(
        workspace_id=workspace.id,
        query=retrieval_query(text, previous),
        top_k=default_top_k(),
        document_ids=document_ids,
    )
    web_tool = web_fetch.tool_for(workspace, text) if files_api.online() else None
    code_plan = code_execution.plan_for(workspace, text, hits)
    result = Result(mode=_mode(), model="", segments=[])
    parts: Iterator[Part]
    if not hits and web_tool is None:
        parts = iter([("segment", None), ("text", NOT_FOUND)])
    elif files_api.online():
        parts = claude_parts(
            text, hits, history, result, web_tool=web_tool, code_plan=code_plan
        )
    else:
        idf = term_idf(workspace.id, spelled_out(f"{text} {previous}"))
        parts = offline_parts(text, hits, result, idf=idf, previous=previous)
    ordinal = 0
    for kind, value in parts:
        if kind == "segment" or not result.segments:
            result.segments.append(Segment(""))
        if kind == "text":
            result.segments[-1].text += value
            yield {"event": "text", "data": {"text": value}}
        elif kind == "citation":
            result.segments[-1].citations.append(value)
            ordinal += 1
            yield {"event": "citation", "data": citation_json(value, ordinal)}
    if not "".join(segment.text for segment in result.segments).strip():
        result.segments = [Segment(NOT_FOUND)]
        yield {"event": "text", "data": {"text": NOT_FOUND}}
    for run in result.code_runs:
        # What Claude's code did (search/code_execution.py), once the message ended.
        yield {"event": "code_run", "data": code_execution.run_json(run)}
    latency_ms = int((time.monotonic() - started) * 1000)
    metrics.answered(
        mode=result.mode,
        model=result.model,
        seconds=latency_ms / 1000,
        usage=result.usage,
    )
    answer = services.answer_store(
        workspace, user, text, hits, result, latency_ms, conversation
    )
    # Kept here now: the Files API copies of what the code made can go.
    code_execution.release_outputs(result.code_runs)
    yield {
        "event": "done",
        "data": {
            "answer_id": str(answer.code),
            "conversation_id": str(conversation.code),
            "mode": answer.mode,
            "context_mode": answer.context_mode or None,
            "usage": answer.usage,
            "cost_usd": str(answer.cost_usd),
        },
    }


def _mode() -> str:
    return Answer.Mode.CLAUDE if files_api.online() else Answer.Mode.OFFLINE


def retrieval_query(question: str, previous: str) -> str:
    """What to search for: a follow-up carries the question it follows."""
    if previous and is_follow_up(question):
        return f"{question} {previous}"
    return question
