"""The Claude answerer: the request over the context that fits, streamed and mapped.

Each citation Claude streams is mapped onto Cairn's own text as it arrives;
a referenced file that the Files API no longer has is re-uploaded once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings

from documents.remote.files import (
    document_reupload_expired,
    document_reupload_unusable,
)
from search import claude, code_execution, web_fetch
from search.citations import Part, Result, map_citation
from search.prompting import Context, build_request, choose_context, images_in
from search.retrieval import Hit


def usage_of(raw: dict[str, Any]) -> dict[str, int]:
    """Claude's usage as Answer's fields; cache writes split by TTL for pricing.

    cache_creation (the SDK's CacheCreation) says how many writes were for an
    hour; without it, every write was made with the TTL Cairn asked for.
    """
    written = int(raw.get("cache_creation_input_tokens") or 0)
    by_ttl = raw.get("cache_creation")
    if isinstance(by_ttl, dict):
        one_hour = int(by_ttl.get("ephemeral_1h_input_tokens") or 0)
    else:
        one_hour = written if settings.CLAUDE_CACHE_TTL == "1h" else 0
    return {
        "input_tokens": int(raw.get("input_tokens") or 0),
        "output_tokens": int(raw.get("output_tokens") or 0),
        "cache_read_tokens": int(raw.get("cache_read_input_tokens") or 0),
        "cache_write_tokens": written,
        "cache_write_1h_tokens": min(one_hour, written),
    }


def claude_parts(
    question: str,
    hits: list[Hit],
    history: list[dict[str, Any]],
    result: Result,
    *,
    web_tool: dict[str, Any] | None = None,
    code_plan: code_execution.Plan | None = None,
) -> Iterator[Part]:
    """Stream Claude's answer over the context that fits, mapping each citation."""
    context = choose_context(hits)
    result.context_mode = context.mode
    result.images_sent = [
        {"document_id": str(d.id), "title": d.title} for d in images_in(context)
    ]
    if code_plan is not None and not code_execution.upload_datasets(code_plan):
        code_plan = None
    try:
        yield from _parts(question, context, history, result, web_tool, code_plan)
    finally:
        if code_plan is not None:
            code_execution.release_uploads(code_plan)


def _parts(
    question: str,
    context: Context,
    history: list[dict[str, Any]],
    result: Result,
    web_tool: dict[str, Any] | None,
    code_plan: code_execution.Plan | None,
) -> Iterator[Part]:
    # Fetched pages are numbered after the request's document blocks; search
    # results are counted apart (search_result_index), so chunks mode starts at 0.
    first_web = len(context.documents) if context.mode == "files" else 0
    events = _stream_with_reupload(
        question, context, history, result, web_tool, code_plan
    )
    for event in events:
        kind = event.get("type")
        if kind == "content_block_start":
            if event["content_block"].get("type") == "text":
                yield ("segment", None)
        elif kind == "content_block_delta":
            delta = event["delta"]
            if delta.get("type") == "text_delta":
                yield ("text", delta["text"])
            elif delta.get("type") == "citations_delta":
                citation = delta["citation"]
                if web_fetch.is_fetched(citation, first_web):
                    continue  # placed with its fetched page once the message ends
                mapped = map_citation(citation, context.documents, context)
                if mapped is not None:
                    yield ("citation", mapped)
        elif kind == "final_message":
            message = event["message"]
            result.model = str(message.get("model") or result.model)
            result.usage = usage_of(message.get("usage") or {})
            _attach_web(result, message, first_web)
            if code_plan is not None:
                result.code_runs = code_execution.parse_runs(message["content"])
                result.code_outputs = code_execution.collect_outputs(result.code_runs)


def _attach_web(result: Result, message: dict[str, Any], first_web: int) -> None:
    """Record the fetches and hang each text block's web citations on its segment."""
    content = message.get("content") or []
    result.web_fetches = web_fetch.parse_fetches(content)
    if not result.web_fetches:
        return
    texts = [block for block in content if block.get("type") == "text"]
    for segment, block in zip(result.segments, texts, strict=False):
        segment.web = web_fetch.web_citations(block, first_web, result.web_fetches)


def _stream_with_reupload(
    question: str,
    context: Context,
    history: list[dict[str, Any]],
    result: Result,
    web_tool: dict[str, Any] | None,
    code_plan: code_execution.Plan | None,
) -> Iterator[dict[str, Any]]:
    """Stream events; a referenced file that is gone or expired is re-uploaded.

    Files whose stored expiry has passed go up again before the request; a 404
    (deleted, or `file_expired`) re-uploads the unusable ones and retries once.
    """
    # Files mode sends every document's file; chunks mode only the images'.
    document_reupload_expired(
        documents=context.documents if context.mode == "files" else images_in(context)
    )

    def open_stream() -> Iterator[dict[str, Any]]:
        request = build_request(question, context, history)
        if web_tool is not None:
            web_fetch.add_to_request(request, web_tool)
        if code_plan is not None:
            code_execution.add_to_request(request, code_plan)
        result.model = str(request["model"])
        return claude.stream_message(request)

    events = open_stream()
    try:
        first = next(events, None)
    except claude.FileMissing:
        if not document_reupload_unusable(documents=context.documents):
            raise
        events = open_stream()
        first = next(events, None)
    if first is not None:
        yield first
        yield from events
