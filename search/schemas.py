"""The search API's response bodies: what clients read, in one place."""

from __future__ import annotations

from pydantic import BaseModel, Field


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


class SegmentOut(BaseModel):
    """A stretch of answer text and the ordinals of the citations behind it."""

    text: str
    citations: list[int]


class CitationOut(BaseModel):
    """A cited passage mapped back to its document (and chunk, if it still exists)."""

    ordinal: int
    kind: str = Field(
        description="char_location | page_location | content_block_location"
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
