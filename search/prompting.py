"""The Claude request: which context fits the token budget, history, and the JSON."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from documents.lexical import estimate_tokens
from documents.models import Document
from search import claude
from search.retrieval import Hit

SYSTEM_PROMPT = (
    "You answer questions for a team using only the documents provided in this "
    "conversation. Cite the passage that supports every claim you make. Do not use "
    "outside knowledge. If the documents do not contain the answer, say plainly that "
    "the documents do not say, and do not guess."
)
# A rendered PDF page costs Claude about this many tokens beside its text.
PDF_PAGE_TOKENS = 1500
# An image block costs at most about this many (Claude scales images down to
# about 1.15 megapixels, at roughly 750 pixels a token).
IMAGE_TOKENS = 1600


@dataclass(frozen=True)
class Piece:
    """One text block of a search result: a span of a document and its chunk."""

    hit: Hit
    start: int
    end: int


@dataclass(frozen=True)
class SearchResult:
    """One search_result block: its source (which round-trips), title and pieces."""

    document: Document
    source: str
    title: str
    pieces: list[Piece]


@dataclass
class Context:
    """What Claude is sent: whole documents (files) or their retrieved chunks."""

    mode: str
    documents: list[Document]
    # Chunks mode: per document, the hits in block order (block i is chunks[d][i]).
    chunks: list[list[Hit]] = field(default_factory=list)
    # Chunks mode: the search_result blocks, in request order (search_result_index).
    results: list[SearchResult] = field(default_factory=list)

    def result_for(self, source: str, index: int) -> SearchResult | None:
        """The search result a citation names: by its source, else by its index."""
        for result in self.results:
            if result.source == source:
                return result
        return self.results[index] if 0 <= index < len(self.results) else None


def _stable(documents: list[Document]) -> list[Document]:
    # Upload order, not rank: the same documents make the same prefix, so a
    # repeated or follow-up question reads the cached blocks.
    return sorted(documents, key=lambda d: (d.created, str(d.id)))


def document_tokens(document: Document) -> int:
    """Estimated tokens of a whole document in a request."""
    tokens = estimate_tokens(document.text)
    if document.is_pdf and document.file_id:
        tokens += PDF_PAGE_TOKENS * (document.pages or 1)
    if document.is_image and document.file_id:
        tokens += IMAGE_TOKENS
    return tokens


def choose_context(hits: list[Hit], *, budget: int | None = None) -> Context:
    """Whole documents while they fit the budget, else the retrieved chunks."""
    limit = int(settings.ANSWER_CONTEXT_BUDGET_TOKENS if budget is None else budget)
    order: list[str] = []
    for hit in hits:
        if hit.document_id not in order:
            order.append(hit.document_id)
    order = order[: settings.ANSWER_MAX_DOCUMENTS]
    by_id = {str(d.id): d for d in Document.objects.filter(id__in=order)}
    documents = _stable([by_id[i] for i in order if i in by_id])
    if sum(document_tokens(d) for d in documents) <= limit:
        return Context(mode="files", documents=documents)
    grouped: dict[str, list[Hit]] = {}
    for hit in hits:
        grouped.setdefault(hit.document_id, []).append(hit)
    every = {str(d.id): d for d in Document.objects.filter(id__in=list(grouped))}
    chosen = _stable([every[i] for i in grouped if i in every])
    context = Context(
        mode="chunks",
        documents=chosen,
        chunks=[
            sorted(grouped[str(d.id)], key=lambda hit: hit.ordinal) for d in chosen
        ],
    )
    context.results = search_results(context)
    return context


SOURCE_PREFIX = "cairn:chunk:"
# A sentence ends at . ! or ? (and closing quotes or brackets) before whitespace,
# or at a blank line; the whitespace stays with the sentence before it.
_PIECE_END = re.compile(r"[.!?][\"')\]\u201d\u2019]*\s+|\n\s*\n\s*")


def sentence_pieces(hit: Hit) -> list[Piece]:
    """A chunk cut into sentences whose texts, joined, are the chunk's text again."""
    pieces: list[Piece] = []
    start = 0
    for match in _PIECE_END.finditer(hit.text):
        if hit.text[start : match.end()].strip():
            pieces.append(_piece(hit, start, match.end()))
            start = match.end()
    if hit.text[start:].strip():
        pieces.append(_piece(hit, start, len(hit.text)))
    elif pieces:  # trailing whitespace joins the last sentence
        last = pieces[-1]
        pieces[-1] = Piece(last.hit, last.start, hit.start_char + len(hit.text))
    return pieces or [_piece(hit, 0, len(hit.text))]


def _piece(hit: Hit, start: int, end: int) -> Piece:
    return Piece(hit, hit.start_char + start, hit.start_char + end)


def search_results(context: Context, *, split: bool = True) -> list[SearchResult]:
    """One search result per retrieved chunk, its sentences as text blocks.

    The source names the chunk, so a citation maps back to it by name; split=False
    sends each chunk as a single block (measured in tests/search/test_chunk_shapes).
    """
    results = []
    for document, hits in zip(context.documents, context.chunks, strict=True):
        for hit in hits:
            pieces = sentence_pieces(hit) if split else [_piece(hit, 0, len(hit.text))]
            title = document.title
            if hit.page is not None:
                title += f" (page {hit.page})"
            results.append(
                SearchResult(
                    document=document,
                    source=f"{SOURCE_PREFIX}{hit.chunk_id}",
                    title=title,
                    pieces=pieces,
                )
            )
    return results


def piece_text(piece: Piece) -> str:
    """A piece's text, cut from its chunk (the chunk text is the document's slice)."""
    offset = piece.hit.start_char
    return piece.hit.text[piece.start - offset : piece.end - offset]


def image_block(document: Document) -> dict[str, Any]:
    """The uploaded image itself, which Claude sees but cannot cite."""
    return {"type": "image", "source": {"type": "file", "file_id": document.file_id}}


def images_in(context: Context) -> list[Document]:
    """The context's image documents that go as image blocks (uploaded ones)."""
    return [d for d in context.documents if d.is_image and d.file_id]


def file_block(document: Document) -> dict[str, Any]:
    """A citable document block: the uploaded file, or the stored text inline.

    An image's file is an image, never a document: its OCR text goes inline
    beside its image block, so citations index into Cairn's text.
    """
    source: dict[str, Any]
    if document.file_id and not document.is_image:
        source = {"type": "file", "file_id": document.file_id}
    else:
        # Not uploaded (offline ingest, or too large for the Files API): send the
        # very text Cairn stores, so char_location offsets still index into it.
        source = {"type": "text", "media_type": "text/plain", "data": document.text}
    return {
        "type": "document",
        "source": source,
        "title": document.title,
        "citations": {"enabled": True},
    }


def chunk_block(document: Document, hits: list[Hit]) -> dict[str, Any]:
    """One custom-content document, a block per chunk (cited by block index).

    Chunks mode sent this before search_result blocks; kept for custom-content
    documents and for the measurement in tests/search/test_chunk_shapes.py.
    """
    return {
        "type": "document",
        "source": {
            "type": "content",
            "content": [{"type": "text", "text": hit.text} for hit in hits],
        },
        "title": document.title,
        "citations": {"enabled": True},
    }


def search_result_block(result: SearchResult) -> dict[str, Any]:
    """A search_result block: cited back as search_result_location with its source."""
    return {
        "type": "search_result",
        "source": result.source,
        "title": result.title,
        "content": [{"type": "text", "text": piece_text(p)} for p in result.pieces],
        "citations": {"enabled": True},
    }


def blocks_for(context: Context) -> list[dict[str, Any]]:
    """The context blocks, cache breakpoint (CLAUDE_CACHE_TTL) on the last.

    Whole files go as document blocks; retrieved chunks as search_result blocks
    (measured against custom-content documents in tests/search/test_chunk_shapes).
    """
    blocks: list[dict[str, Any]] = []
    if context.mode == "files":
        for document in context.documents:
            if document.is_image and document.file_id:
                blocks.append(image_block(document))
            blocks.append(file_block(document))
    else:
        blocks = [image_block(d) for d in images_in(context)]
        blocks += [search_result_block(result) for result in context.results]
    if blocks:
        blocks[-1]["cache_control"] = cache_control()
    return blocks


def cache_control() -> dict[str, str]:
    """The documents prefix's cache breakpoint; "1h" only when asked for."""
    ttl = str(settings.CLAUDE_CACHE_TTL)
    return {"type": "ephemeral"} if ttl == "5m" else {"type": "ephemeral", "ttl": ttl}


def build_request(
    question: str,
    context: Context,
    history: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The Messages request: earlier turns, then the documents and the question."""
    return {
        "model": claude.model(),
        "max_tokens": settings.CLAUDE_MAX_TOKENS,
        "system": SYSTEM_PROMPT,
        "messages": [
            *(history or []),
            {
                "role": "user",
                "content": [*blocks_for(context), {"type": "text", "text": question}],
            },
        ],
    }
