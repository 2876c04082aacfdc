"""Citations: what an answer holds, and Claude's citations mapped onto Cairn's text.

Every citation ends as a document, a character range into `Document.text`, the
pages it spans and the chunk that holds it, whichever form Claude cited in.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from documents.models import Chunk, Document
from search.prompting import Context
from search.schemas import CitationOut

log = logging.getLogger(__name__)

NOT_FOUND = "Your documents do not contain an answer to this question."


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
    # Code execution (search/code_execution.py): the runs, and the files they
    # made, downloaded (files_api.Downloaded) and stored with the answer.
    code_runs: list[dict[str, Any]] = field(default_factory=list)
    code_outputs: list[Any] = field(default_factory=list)
    # The image documents sent as image blocks: [{document_id, title}].
    images_sent: list[dict[str, str]] = field(default_factory=list)


# An answerer yields parts: ("segment", None) opens a segment, ("text", str)
# extends it, ("citation", CitationData) backs it; it fills in its Result.
Part = tuple[str, Any]


def citation_json(data: CitationData, ordinal: int) -> dict[str, Any]:
    """A citation as the API and the stream show it."""
    return CitationOut.of(data, ordinal).model_dump()


def map_citation(
    citation: dict[str, Any],
    documents: list[Document],
    context: Context | None = None,
) -> CitationData | None:
    """Map one Claude citation to Cairn's document, character range, pages and chunk."""
    if citation.get("type") == "search_result_location":
        return _map_search_result(citation, context)
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


def _map_search_result(
    citation: dict[str, Any], context: Context | None
) -> CitationData | None:
    """A search_result_location: its source names the chunk, its blocks the range.

    cited_text is the cited blocks joined, so the range is theirs exactly; the
    text is searched for only to drop the whitespace at its edges.
    """
    index = citation.get("search_result_index")
    result = (
        context.result_for(
            str(citation.get("source") or ""), index if isinstance(index, int) else -1
        )
        if context
        else None
    )
    if result is None:
        log.warning("citation names an unknown search result: %r", citation)
        return None
    pieces = result.pieces
    first = min(max(0, int(citation.get("start_block_index") or 0)), len(pieces) - 1)
    last = min(max(first + 1, int(citation.get("end_block_index") or 0)), len(pieces))
    document = result.document
    cited = str(citation.get("cited_text") or "")
    window = (pieces[first].start, pieces[last - 1].end)
    found = _find(document.text, cited, *window)
    start, end = found if found else window
    data = CitationData(
        kind="search_result_location",
        document=document,
        cited_text=cited.strip(),
        start_char=start,
        end_char=end,
        # The source names the chunk exactly; no need to search by offset.
        chunk_id=pieces[first].hit.chunk_id,
    )
    if document.page_starts:
        data.start_page = document.page_of(start)
        data.end_page = document.page_of(max(start, end - 1))
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
