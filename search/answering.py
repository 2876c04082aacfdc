"""Cited answers: Claude over file-referenced documents, or offline extraction."""

from __future__ import annotations

import itertools
import logging
import math
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction

from documents.lexical import terms
from documents.models import Chunk, Document, Workspace
from documents.remote import files_api
from search import claude, web_fetch
from search.models import Answer, Citation, Conversation, Question
from search.prompting import Context, build_request, choose_context
from search.retrieval import Hit, chunk_search, default_top_k

log = logging.getLogger(__name__)

NOT_FOUND = "Your documents do not contain an answer to this question."
MAX_OFFLINE_SENTENCES = 3


@dataclass
class CitationData:
    """A citation mapped to Cairn's own document, chunk and ranges."""

    kind: str
    document: Document
    cited_text: str
    start_char: int | None = None
    end_char: int | None = None
    start_page: int | None = None
    end_page: int | None = None
    chunk_id: int | None = None


@dataclass
class Segment:
    """A run of answer text and the citations that back it."""

    text: str
    citations: list[CitationData] = field(default_factory=list)
    # Citations into pages Claude fetched (search/web_fetch.py).
    web: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Result:
    """What an answerer produced, before it is stored."""

    mode: str
    model: str
    segments: list[Segment]
    usage: dict[str, int] = field(default_factory=dict)
    web_fetches: list[dict[str, Any]] = field(default_factory=list)
    context_mode: str = ""


# An answerer yields parts: ("segment", None) opens a segment, ("text", str)
# extends it, ("citation", CitationData) backs it; it fills in its Result.
Part = tuple[str, Any]


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
    history = conversation_history(conversation)
    hits = chunk_search(
        workspace_id=workspace.id,
        query=text,
        top_k=default_top_k(),
        document_ids=document_ids,
    )
    web_tool = web_fetch.tool_for(workspace, text) if files_api.online() else None
    result = Result(mode=_mode(), model="", segments=[])
    parts: Iterator[Part]
    if not hits and web_tool is None:
        parts = iter([("segment", None), ("text", NOT_FOUND)])
    elif files_api.online():
        parts = claude_parts(text, hits, history, result, web_tool=web_tool)
    else:
        parts = offline_parts(text, hits, result)
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
    latency_ms = int((time.monotonic() - started) * 1000)
    answer = _store(workspace, user, text, hits, result, latency_ms, conversation)
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


def citation_json(data: CitationData, ordinal: int) -> dict[str, Any]:
    """A citation as the API and the stream show it."""
    return {
        "ordinal": ordinal,
        "kind": data.kind,
        "document_id": str(data.document.id),
        "document_title": data.document.title,
        "chunk_id": data.chunk_id,
        "cited_text": data.cited_text,
        "start_char": data.start_char,
        "end_char": data.end_char,
        "start_page": data.start_page,
        "end_page": data.end_page,
    }


def _mode() -> str:
    return Answer.Mode.CLAUDE if files_api.online() else Answer.Mode.OFFLINE


# Conversations --------------------------------------------------------------


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


# Claude ---------------------------------------------------------------------


def estimate_cost(model: str, usage: dict[str, int]) -> Decimal:
    """US dollars for one answer, from the shared price table (search.usage)."""
    from search import usage as usage_prices

    return usage_prices.estimate_cost(
        model,
        input=usage.get("input_tokens", 0),
        output=usage.get("output_tokens", 0),
        cache_read=usage.get("cache_read_tokens", 0),
        cache_write=usage.get("cache_write_tokens", 0),
    )


def _usage(raw: dict[str, Any]) -> dict[str, int]:
    return {
        "input_tokens": int(raw.get("input_tokens") or 0),
        "output_tokens": int(raw.get("output_tokens") or 0),
        "cache_read_tokens": int(raw.get("cache_read_input_tokens") or 0),
        "cache_write_tokens": int(raw.get("cache_creation_input_tokens") or 0),
    }


def claude_parts(
    question: str,
    hits: list[Hit],
    history: list[dict[str, Any]],
    result: Result,
    *,
    web_tool: dict[str, Any] | None = None,
) -> Iterator[Part]:
    """Stream Claude's answer over the context that fits, mapping each citation."""
    context = choose_context(hits)
    result.context_mode = context.mode
    first_web = len(context.documents)
    for event in _stream_with_reupload(question, context, history, result, web_tool):
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
            result.usage = _usage(message.get("usage") or {})
            _attach_web(result, message, first_web)


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
) -> Iterator[dict[str, Any]]:
    """Stream events; if a referenced file is gone (404), re-upload it, retry once."""
    import anthropic

    from documents.remote.files import document_reupload_missing

    def open_stream() -> Iterator[dict[str, Any]]:
        request = build_request(question, context, history)
        betas = [files_api.FILES_BETA]
        if web_tool is not None:
            betas.append(web_fetch.add_to_request(request, web_tool))
        result.model = str(request["model"])
        return claude.stream_message(request, betas=betas)

    events = open_stream()
    try:
        first = next(events, None)
    except anthropic.NotFoundError:
        if not document_reupload_missing(documents=context.documents):
            raise
        events = open_stream()
        first = next(events, None)
    if first is not None:
        yield first
        yield from events


def map_citation(
    citation: dict[str, Any],
    documents: list[Document],
    context: Context | None = None,
) -> CitationData | None:
    """Map one Claude citation to Cairn's document, character range, pages and chunk."""
    index = citation.get("document_index")
    if not isinstance(index, int) or not 0 <= index < len(documents):
        log.warning("citation names an unknown document index: %r", index)
        return None
    document = documents[index]
    cited = str(citation.get("cited_text") or "")
    kind = citation.get("type")
    data = CitationData(kind=str(kind), document=document, cited_text=cited.strip())
    if kind == "char_location":
        start = int(citation["start_char_index"])
        end = int(citation["end_char_index"])
        start, end = _locate(
            document.text, cited, max(0, start), min(end, len(document.text))
        )
        # Claude's sentences carry their trailing space; the highlight should not.
        while end > start and document.text[end - 1].isspace():
            end -= 1
        data.start_char, data.end_char = start, end
        if document.page_starts:
            data.start_page = document.page_of(start)
            data.end_page = document.page_of(max(start, end - 1))
    elif kind == "page_location":
        last = document.pages or 1
        first_page = min(max(1, int(citation["start_page_number"])), last)
        # The end is exclusive (a citation on page 5 reads 5 -> 6); never past the end.
        end_page = min(max(first_page, int(citation["end_page_number"]) - 1), last)
        data.start_page, data.end_page = first_page, end_page
        window = _page_range(document, first_page, end_page)
        found = _find(document.text, cited, *window)
        data.start_char, data.end_char = found if found else window
    elif kind == "content_block_location" and context and context.chunks:
        blocks = context.chunks[index]
        first = min(max(0, int(citation["start_block_index"])), len(blocks) - 1)
        last = min(max(first + 1, int(citation["end_block_index"])), len(blocks))
        window = (blocks[first].start_char, blocks[last - 1].end_char)
        found = _find(document.text, cited, *window)
        data.start_char, data.end_char = found if found else window
        if document.page_starts:
            data.start_page = document.page_of(data.start_char)
            data.end_page = document.page_of(max(data.start_char, data.end_char - 1))
        # The block names the chunk exactly; no need to search by offset.
        data.chunk_id = blocks[first].chunk_id
        return data
    else:
        log.warning("unsupported citation type %r", kind)
        return None
    data.chunk_id = _chunk_for(document, data.start_char, data.start_page)
    return data


def _page_range(document: Document, first: int, last: int) -> tuple[int, int]:
    starts = document.page_starts or [0]
    start = starts[first - 1] if first - 1 < len(starts) else 0
    end = starts[last] if last < len(starts) else len(document.text)
    return start, end


_SPACE = re.compile(r"\s+")


def _find(text: str, needle: str, start: int, end: int) -> tuple[int, int] | None:
    """Find needle in text[start:end], tolerant of whitespace differences."""
    needle = needle.strip()
    if not needle:
        return None
    exact = text.find(needle, start, end)
    if exact >= 0:
        return exact, exact + len(needle)
    pattern = r"\s+".join(re.escape(part) for part in _SPACE.split(needle) if part)
    match = re.compile(pattern).search(text, start, end)
    return (match.start(), match.end()) if match else None


def _locate(text: str, cited: str, start: int, end: int) -> tuple[int, int]:
    """Trust Claude's offsets when they hold the cited text; else search near them."""
    if text[start:end] == cited or not cited:
        return start, end
    found = _find(text, cited, max(0, start - 200), min(len(text), end + 200))
    return found if found else (start, end)


def _chunk_for(
    document: Document, start_char: int | None, page: int | None
) -> int | None:
    chunks = Chunk.objects.filter(document=document)
    if start_char is not None:
        chunk = (
            chunks.filter(start_char__lte=start_char, end_char__gt=start_char)
            .order_by("ordinal")
            .values_list("id", flat=True)
            .first()
        )
        if chunk is not None:
            return int(chunk)
        chunk = (
            chunks.filter(start_char__gte=start_char)
            .order_by("ordinal")
            .values_list("id", flat=True)
            .first()
        )
        if chunk is not None:
            return int(chunk)
    if page is not None:
        chunk = (
            chunks.filter(page=page)
            .order_by("ordinal")
            .values_list("id", flat=True)
            .first()
        )
        return int(chunk) if chunk is not None else None
    return None


# Offline --------------------------------------------------------------------

# A sentence ends at . ! or ? followed by space, or at a blank line; a single
# newline is only a wrapped line (PDF text is full of them).
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n[ \t]*\n\s*")
MAX_SENTENCE_CHARS = 400
# Questions after a quantity are answered by sentences that hold a number.
_QUANTITY = re.compile(
    r"\b(how (many|much|long|often)|what (percent|share|amount|number)|when)\b",
    re.IGNORECASE,
)
_DIGIT = re.compile(r"\d")


def _sentences(hit: Hit) -> list[tuple[int, int]]:
    """Sentence spans of a hit, as absolute offsets into its document's text."""
    text = hit.text
    cuts = [0, *(m.end() for m in _BOUNDARY.finditer(text)), len(text)]
    spans = []
    for left, right in itertools.pairwise(cuts):
        pieces = [(left, right)]
        if right - left > MAX_SENTENCE_CHARS:
            # Tables and lists have no full stops: fall back to their lines.
            lines = [left + m.end() for m in re.finditer(r"\n", text[left:right])]
            pieces = list(itertools.pairwise([left, *lines, right]))
        for start, end in pieces:
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if end - start >= 20:
                spans.append((hit.start_char + start, hit.start_char + end))
    return spans


def offline_parts(question: str, hits: list[Hit], result: Result) -> Iterator[Part]:
    """The offline answer, streamed in the same parts as Claude's."""
    answer = offline_answer(question, hits)
    result.model = answer.model
    for segment in answer.segments:
        yield ("segment", None)
        # Word by word, so the page streams offline as it does with Claude.
        for piece in re.findall(r"\S+\s*", segment.text):
            yield ("text", piece)
        for citation in segment.citations:
            yield ("citation", citation)


def offline_answer(question: str, hits: list[Hit]) -> Result:
    """Pick the retrieved sentences that share the question's rarest terms."""
    wanted = set(terms(question))
    documents = {
        str(d.id): d
        for d in Document.objects.filter(id__in={h.document_id for h in hits})
    }
    candidates: list[tuple[Hit, int, int, set[str]]] = []
    for hit in hits:
        for start, end in _sentences(hit):
            local = hit.text[start - hit.start_char : end - hit.start_char]
            candidates.append((hit, start, end, set(terms(local))))
    if not wanted or not candidates:
        return Result(mode=Answer.Mode.OFFLINE, model="", segments=[Segment(NOT_FOUND)])
    frequency = Counter(term for *_, found in candidates for term in found & wanted)
    total = len(candidates)

    def weight(term: str) -> float:
        return math.log(1.0 + total / (1 + frequency[term]))

    wants_number = bool(_QUANTITY.search(question))
    scored = []
    seen: set[tuple[str, int]] = set()
    for rank, (hit, start, end, found) in enumerate(candidates):
        shared = found & wanted
        if not shared or (hit.document_id, start) in seen:
            continue
        seen.add((hit.document_id, start))
        score = sum(weight(term) for term in shared) / math.sqrt(len(found) + 4)
        if wants_number and _DIGIT.search(
            hit.text[start - hit.start_char :][: end - start]
        ):
            score *= 1.5
        scored.append((score, -rank, hit, start, end))
    scored.sort(key=lambda item: (item[0], item[1]), reverse=True)
    # Only sentences nearly as good as the best: a weak runner-up adds noise.
    best = [item for item in scored if item[0] >= 0.5 * scored[0][0]] if scored else []
    best = best[:MAX_OFFLINE_SENTENCES]
    if not best or best[0][0] <= 0:
        return Result(mode=Answer.Mode.OFFLINE, model="", segments=[Segment(NOT_FOUND)])
    segments = []
    for _, _, hit, start, end in best:
        document = documents[hit.document_id]
        cited = document.text[start:end]
        page = document.page_of(start)
        citation = CitationData(
            kind="page_location" if document.is_pdf else "char_location",
            document=document,
            cited_text=cited,
            start_char=start,
            end_char=end,
            start_page=page,
            end_page=document.page_of(end - 1) if page else None,
            chunk_id=hit.chunk_id,
        )
        segments.append(Segment(text=cited + " ", citations=[citation]))
    return Result(
        mode=Answer.Mode.OFFLINE, model="offline-extractive", segments=segments
    )


# Storage --------------------------------------------------------------------


def _store(
    workspace: Workspace,
    user: Any,
    text: str,
    hits: list[Hit],
    result: Result,
    latency_ms: int,
    conversation: Conversation | None = None,
) -> Answer:
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
            context_mode=result.context_mode,
            cost_usd=estimate_cost(result.model, result.usage),
            **result.usage,
        )
        for citation in citations:
            citation.answer = answer
        Citation.objects.bulk_create(citations)
    return answer
