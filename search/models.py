"""Questions, answers, citations and their token usage."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from documents.models import Chunk, Document, Workspace


class Conversation(models.Model):
    """A thread of questions; follow-ups carry the earlier turns."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="conversations"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="conversations",
    )
    title = models.CharField(max_length=200)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated"]

    def __str__(self) -> str:
        return self.title


class Question(models.Model):
    """What a user asked in a workspace."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="questions"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True
    )
    text = models.TextField()
    conversation = models.ForeignKey(
        Conversation,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="questions",
    )
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.text[:80]


class Answer(models.Model):
    """An answer to a question, in the segments it was written in."""

    class Mode(models.TextChoices):
        CLAUDE = "claude"
        OFFLINE = "offline"

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    question = models.ForeignKey(
        Question, on_delete=models.CASCADE, related_name="answers"
    )

    class Context(models.TextChoices):
        FILES = "files", "whole documents"
        CHUNKS = "chunks", "retrieved chunks"

    mode = models.CharField(max_length=10, choices=Mode.choices)
    # What Claude was sent: whole documents, or only the retrieved chunks.
    context_mode = models.CharField(max_length=10, choices=Context.choices, blank=True)
    model = models.CharField(max_length=100, blank=True)
    text = models.TextField()
    # [{"text": str, "citations": [ordinal, ...]}, ...] in answer order.
    segments = models.JSONField(default=list)
    # Chunk ids the retriever handed to the answerer, best first.
    retrieved_chunk_ids = models.JSONField(default=list)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cache_read_tokens = models.PositiveIntegerField(default=0)
    # Every cache write; of them, cache_write_1h_tokens were written with the
    # one-hour TTL, which costs more than the five-minute one.
    cache_write_tokens = models.PositiveIntegerField(default=0)
    cache_write_1h_tokens = models.PositiveIntegerField(default=0)
    # Estimated from settings.CLAUDE_PRICES at the time of answering.
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    # Claude's web fetches while answering: [{"url", "title", "retrieved_at",
    # "error_code"}, ...] in the order they ran (search/web_fetch.py).
    web_fetches = models.JSONField(default=list, blank=True)
    # The code Claude ran with the code execution tool: [{"tool", "code",
    # "stdout", "stderr", "return_code", "error_code", "file_ids"}, ...] in the
    # order it ran (search/code_execution.py); its files are AnswerArtifacts.
    code_runs = models.JSONField(default=list, blank=True)
    # The images Claude was shown as image blocks: [{document_id, title}].
    images_sent = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.text[:80]

    @property
    def usage(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_input_tokens": self.cache_read_tokens,
            "cache_creation_input_tokens": self.cache_write_tokens,
            # Of the writes, those made for an hour (priced at 2x input).
            "cache_creation_1h_input_tokens": self.cache_write_1h_tokens,
        }


def _artifact_path(artifact: AnswerArtifact, filename: str) -> str:
    return f"answer-artifacts/{artifact.answer.code}/{artifact.code}"


class AnswerArtifact(models.Model):
    """A file Claude's code execution made while answering (a chart, a table).

    Downloaded from the Files API and kept here (the remote copy is deleted),
    so it is served only to members of the answer's workspace.
    """

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    answer = models.ForeignKey(
        Answer, on_delete=models.CASCADE, related_name="artifacts"
    )
    filename = models.CharField(max_length=255)
    mime_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    content = models.FileField(upload_to=_artifact_path, max_length=300)
    # The Files API id it was downloaded from (deleted remotely since).
    file_id = models.CharField(max_length=100, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["answer", "id"]

    def __str__(self) -> str:
        return self.filename

    @property
    def is_image(self) -> bool:
        """A raster image the answer page shows inline (never SVG: it runs script)."""
        return self.mime_type in INLINE_IMAGE_TYPES


INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


class Citation(models.Model):
    """One cited passage of an answer, mapped back to its document and chunk."""

    class Kind(models.TextChoices):
        CHAR = "char_location"
        PAGE = "page_location"
        BLOCK = "content_block_location"
        SEARCH_RESULT = "search_result_location"

    answer = models.ForeignKey(
        Answer, on_delete=models.CASCADE, related_name="citations"
    )
    ordinal = models.PositiveIntegerField()
    kind = models.CharField(max_length=30, choices=Kind.choices)
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="+")
    chunk = models.ForeignKey(
        Chunk, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    cited_text = models.TextField()
    start_char = models.PositiveIntegerField(null=True, blank=True)
    end_char = models.PositiveIntegerField(null=True, blank=True)
    start_page = models.PositiveIntegerField(null=True, blank=True)
    end_page = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["answer", "ordinal"]

    def __str__(self) -> str:
        return f"[{self.ordinal}] {self.cited_text[:60]}"


class Feedback(models.Model):
    """A user's verdict on an answer: helpful or not, with an optional comment."""

    answer = models.ForeignKey(
        Answer, on_delete=models.CASCADE, related_name="feedback"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    helpful = models.BooleanField()
    comment = models.TextField(blank=True, max_length=2000)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated"]
        constraints = [
            models.UniqueConstraint(
                fields=["answer", "user"], name="unique_feedback_per_user"
            )
        ]

    def __str__(self) -> str:
        return f"{'helpful' if self.helpful else 'not helpful'}: {self.answer}"
