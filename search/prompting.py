"""The Claude request: which context fits the token budget, history, and the JSON."""

from __future__ import annotations

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


@dataclass
class Context:
    """What Claude is sent: whole documents (files) or their retrieved chunks."""

    mode: str
    documents: list[Document]
    # Chunks mode: per document, the hits in block order (block i is chunks[d][i]).
    chunks: list[list[Hit]] = field(default_factory=list)


def _stable(documents: list[Document]) -> list[Document]:
    # Upload order, not rank: the same documents make the same prefix, so a
    # repeated or follow-up question reads the cached blocks.
    return sorted(documents, key=lambda d: (d.created, str(d.id)))


def document_tokens(document: Document) -> int:
    """Estimated tokens of a whole document in a request."""
    tokens = estimate_tokens(document.text)
    if document.is_pdf and document.file_id:
        tokens += PDF_PAGE_TOKENS * (document.pages or 1)
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
    return Context(
        mode="chunks",
        documents=chosen,
        chunks=[
            sorted(grouped[str(d.id)], key=lambda hit: hit.ordinal) for d in chosen
        ],
    )


def file_block(document: Document) -> dict[str, Any]:
    """A citable document block: the uploaded file, or the stored text inline."""
    source: dict[str, Any]
    if document.file_id:
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
    """One custom-content document; each chunk is a block Claude can cite by index."""
    return {
        "type": "document",
        "source": {
            "type": "content",
            "content": [{"type": "text", "text": hit.text} for hit in hits],
        },
        "title": document.title,
        "citations": {"enabled": True},
    }


def blocks_for(context: Context) -> list[dict[str, Any]]:
    """The document blocks of a context, cache breakpoint on the last."""
    if context.mode == "files":
        blocks = [file_block(d) for d in context.documents]
    else:
        blocks = [
            chunk_block(d, hits)
            for d, hits in zip(context.documents, context.chunks, strict=True)
        ]
    if blocks:
        blocks[-1]["cache_control"] = {"type": "ephemeral"}
    return blocks


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
