"""Structure-aware chunking with exact character offsets into the document text."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from documents.lexical import CHARS_PER_TOKEN, estimate_tokens

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n+")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


@dataclass(frozen=True)
class Span:
    """A piece of the text: text[start:end], on a page, under a heading path."""

    start: int
    end: int
    page: int | None = None
    heading: str = ""


@dataclass(frozen=True)
class ChunkSpec:
    """A chunk to store: its exact range in the text and where it sits."""

    start: int
    end: int
    page: int | None
    heading: str
    token_estimate: int
    # Text that belongs with the chunk for embedding but is not part of its slice
    # (a CSV header row repeated for every group of rows).
    context: str = ""


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _pieces(text: str, start: int, end: int, limit: int) -> Iterator[tuple[int, int]]:
    """Split text[start:end] into pieces no longer than limit.

    Paragraphs first, then sentences, then whitespace, then a hard cut; each level
    only where the one before left a piece too long.
    """
    for pattern in (_PARAGRAPH_BREAK, _SENTENCE_END):
        if end - start <= limit:
            break
        cuts = [m.end() for m in pattern.finditer(text, start, end)]
        cuts = [cut for cut in cuts if start < cut < end]
        if cuts:
            bounds = [start, *cuts, end]
            for left, right in itertools.pairwise(bounds):
                yield from _pieces(text, left, right, limit)
            return
    if end - start <= limit:
        left, right = _trimmed(text, start, end)
        if left < right:
            yield left, right
        return
    position = start
    while position < end:
        stop = min(position + limit, end)
        if stop < end:
            space = text.rfind(" ", position + limit // 2, stop)
            if space > position:
                stop = space + 1
        left, right = _trimmed(text, position, stop)
        if left < right:
            yield left, right
        position = stop


def _spans(text: str, page_starts: list[int]) -> Iterator[Span]:
    """Yield page-bounded, heading-labelled sections of the text."""
    bounds = page_starts or [0]
    for index, page_start in enumerate(bounds):
        page_end = bounds[index + 1] if index + 1 < len(bounds) else len(text)
        page = index + 1 if page_starts else None
        yield from _sections(text, page_start, page_end, page)


def _sections(text: str, start: int, end: int, page: int | None) -> Iterator[Span]:
    """Split at Markdown headings, carrying the heading path."""
    path: list[tuple[int, str]] = []
    section_start = start
    heading = ""
    for line in re.finditer(r"^.*$", text[start:end], flags=re.MULTILINE):
        match = _HEADING.match(line.group())
        if not match:
            continue
        line_start = start + line.start()
        if line_start > section_start:
            yield Span(section_start, line_start, page, heading)
        level = len(match.group(1))
        path = [(lvl, title) for lvl, title in path if lvl < level]
        path.append((level, match.group(2)))
        heading = " › ".join(title for _, title in path)
        section_start = line_start
    if section_start < end:
        yield Span(section_start, end, page, heading)


def _pack(
    pieces: list[tuple[int, int]], index: int, limit: int
) -> tuple[int, int, int]:
    """Take pieces from index on while they fit in limit characters.

    Returns the chunk's (start, end) and the index of the first piece left out;
    the first piece is always taken, so every call makes progress.
    """
    start, end = pieces[index]
    index += 1
    while index < len(pieces) and pieces[index][1] - start <= limit:
        end = pieces[index][1]
        index += 1
    return start, end, index


def chunk_text(
    text: str,
    page_starts: list[int] | None = None,
    *,
    max_tokens: int = 350,
    overlap_tokens: int = 40,
) -> list[ChunkSpec]:
    """Cut text into chunks of at most max_tokens, never across a page or heading.

    Every chunk is text[start:end] exactly, so offsets stay valid for citations.
    Consecutive chunks of one section overlap by up to overlap_tokens of whole
    pieces (sentences or paragraphs), so a fact on a boundary is found whole.
    """
    limit = max(64, max_tokens * CHARS_PER_TOKEN)
    overlap = max(0, overlap_tokens * CHARS_PER_TOKEN)
    chunks: list[ChunkSpec] = []
    for span in _spans(text, page_starts or []):
        pieces = list(_pieces(text, span.start, span.end, limit))
        index = 0
        while index < len(pieces):
            first = index
            chunk_start, chunk_end, index = _pack(pieces, index, limit)
            chunks.append(
                ChunkSpec(
                    start=chunk_start,
                    end=chunk_end,
                    page=span.page,
                    heading=span.heading,
                    token_estimate=estimate_tokens(text[chunk_start:chunk_end]),
                )
            )
            if index < len(pieces) and overlap:
                back = index
                while back - 1 > first and (
                    pieces[index - 1][1] - pieces[back - 1][0] <= overlap
                ):
                    back -= 1
                # Overlap only where the next chunk still reaches new text.
                while back < index and pieces[index][1] - pieces[back][0] > limit:
                    back += 1
                index = back
    return chunks


def chunk_rows(
    text: str,
    row_ends: list[int],
    *,
    max_tokens: int = 350,
    start: int = 0,
    heading: str = "",
) -> list[ChunkSpec]:
    """Cut a table (CSV, a sheet) into groups of whole rows, each with the header.

    The first row from `start` is the header: it is its own chunk and the
    `context` of every other chunk, so each group of rows is embedded with its
    column names while its offsets still slice exactly the rows. A row longer
    than the limit stays whole in a chunk of its own: a record is never split.
    """
    limit = max(64, max_tokens * CHARS_PER_TOKEN)
    rows: list[tuple[int, int]] = []
    previous = start
    for end in row_ends:
        left, right = _trimmed(text, previous, end)
        if left < right:
            rows.append((left, right))
        previous = end
    if not rows:
        return []
    header = text[rows[0][0] : rows[0][1]]
    chunks = [
        ChunkSpec(rows[0][0], rows[0][1], None, heading, estimate_tokens(header), "")
    ]
    index = 1
    while index < len(rows):
        first, last, index = _pack(rows, index, limit)
        chunks.append(
            ChunkSpec(
                start=first,
                end=last,
                page=None,
                heading=heading,
                token_estimate=estimate_tokens(text[first:last]),
                context=header,
            )
        )
    return chunks
