"""The search API's response bodies: what clients read, in one place.

The answer stream's citation events (search/citations.citation_json) are
CitationOut too.
"""

from __future__ import annotations

from typing import Protocol

from django.urls import reverse
from pydantic import BaseModel, Field

from documents.models import Document
from search.models import Answer, Conversation


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


class WebCitationOut(BaseModel):
    """A passage of a fetched web page; `fetch` indexes the answer's web_fetches."""

    fetch: int
    cited_text: str
    start_char: int | None
    end_char: int | None


class SegmentOut(BaseModel):
    """A stretch of answer text and the ordinals of the citations behind it."""

    text: str
    citations: list[int]
    web: list[WebCitationOut] | None = Field(
        None,
        description="Citations of pages Claude fetched; absent when there are none.",
        exclude_if=lambda web: web is None,
    )


class Cited(Protocol):
    """What a citation is read from: a stored Citation or a freshly mapped one."""

    kind: str
    document: Document
    chunk_id: int | None
    cited_text: str
    start_char: int | None
    end_char: int | None
    start_page: int | None
    end_page: int | None


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

    @classmethod
    def of(cls, citation: Cited, ordinal: int) -> CitationOut:
        """A citation as the API and the answer stream show it."""
        return cls(
            ordinal=ordinal,
            kind=citation.kind,
            document_id=str(citation.document.id),
            document_title=citation.document.title,
            chunk_id=citation.chunk_id,
            cited_text=citation.cited_text,
            start_char=citation.start_char,
            end_char=citation.end_char,
            start_page=citation.start_page,
            end_page=citation.end_page,
        )


class WebFetchOut(BaseModel):
    """A web page Claude fetched while answering."""

    url: str
    title: str | None = None
    retrieved_at: str | None = None
    error_code: str | None = None


class CodeRunOut(BaseModel):
    """Code Claude ran with the code execution tool, and what it printed."""

    tool: str = Field(
        description="code_execution | bash_code_execution | text_editor_code_execution"
    )
    label: str = Field(description="The file editor's command and path, if any.")
    code: str
    stdout: str
    stderr: str
    return_code: int | None
    error_code: str
    file_ids: list[str] = Field(description="Files it made (see artifacts).")


class ArtifactOut(BaseModel):
    """A file the answer's code made, kept with the answer."""

    id: str
    filename: str
    mime_type: str
    size: int
    url: str = Field(description="The signed-in page that serves it.")


class ImageSentOut(BaseModel):
    """An image document Claude was shown as an image block (it cannot cite one)."""

    document_id: str
    title: str


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
    code_runs: list[CodeRunOut]
    artifacts: list[ArtifactOut]
    images_sent: list[ImageSentOut] = Field(
        default_factory=list,
        description="Image documents sent to Claude as image blocks.",
    )

    @classmethod
    def of(cls, answer: Answer) -> AnswerOut:
        """A stored answer with its question, citations and conversation."""
        conversation = answer.question.conversation
        return cls.model_validate(
            {
                "id": str(answer.code),
                "question": answer.question.text,
                "answer": answer.text,
                "mode": answer.mode,
                "model": answer.model or None,
                "segments": answer.segments,
                "citations": [
                    CitationOut.of(c, c.ordinal) for c in answer.citations.all()
                ],
                "conversation_id": str(conversation.code) if conversation else None,
                "context_mode": answer.context_mode or None,
                "usage": answer.usage,
                "cost_usd": str(answer.cost_usd),
                "latency_ms": answer.latency_ms,
                "web_fetches": answer.web_fetches,
                "code_runs": answer.code_runs,
                "artifacts": [
                    {
                        "id": str(a.code),
                        "filename": a.filename,
                        "mime_type": a.mime_type,
                        "size": a.size,
                        "url": reverse("search:artifact", args=[answer.code, a.code]),
                    }
                    for a in answer.artifacts.all()
                ],
                "images_sent": answer.images_sent,
            }
        )


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

    @classmethod
    def of(cls, conversation: Conversation, answers: list[str]) -> ConversationOut:
        """A conversation with its answers' ids."""
        return cls(
            id=str(conversation.code),
            title=conversation.title,
            updated=conversation.updated.isoformat(),
            answers=answers,
        )


class ConversationList(BaseModel):
    """The user's conversations, latest first."""

    conversations: list[ConversationOut]
