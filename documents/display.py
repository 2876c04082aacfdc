"""How documents read on the pages: type names, the Files API badge, failures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.db.models import Q
from django.http import HttpRequest

from documents import queue
from documents.ingestion import extraction, failures, images
from documents.models import Document

# The names people know file types by, instead of MIME types.
KIND_NAMES = {
    extraction.PDF: "PDF",
    extraction.DOCX: "Word",
    extraction.HTML: "HTML",
    extraction.CSV: "CSV",
    extraction.XLSX: "Excel",
    extraction.MARKDOWN: "Markdown",
    extraction.TEXT: "Text",
    images.PNG: "PNG image",
    images.JPEG: "JPEG image",
    images.GIF: "GIF image",
    images.WEBP: "WebP image",
}

# The list's type filter: a name in the URL, its label and the MIME types.
TYPE_FILTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "pdf": ("PDF", (extraction.PDF,)),
    "word": ("Word", (extraction.DOCX,)),
    "html": ("HTML", (extraction.HTML,)),
    "csv": ("CSV", (extraction.CSV,)),
    "excel": ("Excel", (extraction.XLSX,)),
    "markdown": ("Markdown", (extraction.MARKDOWN,)),
    "text": ("Text", (extraction.TEXT,)),
    "image": ("Image", images.IMAGE_TYPES),
    "web": ("Added by URL", ()),
}


def type_filter(kind: str) -> Q:
    """The condition for one of TYPE_FILTERS."""
    if kind == "web":
        return ~Q(source_url="")
    return Q(mime_type__in=TYPE_FILTERS[kind][1])


def kind_name(mime_type: str) -> str:
    """'PDF', 'Word', ... for a MIME type; a page not fetched yet has none."""
    if not mime_type:
        return "—"
    return KIND_NAMES.get(mime_type, mime_type)


@dataclass(frozen=True)
class Badge:
    """A short label, its style and the detail shown on hover."""

    label: str
    style: str
    detail: str


def files_api_badge(document: Document) -> Badge:
    """The Files API state in a word; the note or the file id on hover."""
    note = document.files_api_note
    if document.file_id:
        return Badge("uploaded", "ok", f"Files API file {document.file_id}")
    if note.startswith("skipped: offline"):
        return Badge(
            "offline",
            "",
            "Not uploaded: offline mode (no ANTHROPIC_API_KEY); answers use "
            "the text Cairn extracted.",
        )
    if note.startswith("paused"):
        return Badge("paused", "warn", note)
    if note.startswith("too large"):
        return Badge("too large", "warn", note)
    if note:
        return Badge("skipped", "warn", note)
    return Badge("—", "", "Not uploaded yet.")


@dataclass(frozen=True)
class Failure:
    """What a person reads about a failed document, and whether to offer Retry."""

    message: str
    retryable: bool


def failure(document: Document) -> Failure | None:
    """The failure of a failed document, in plain words (else None)."""
    if document.status != Document.Status.FAILED:
        return None
    kind = failures.kind_for(document.failure_kind)
    return Failure(
        message=failures.plain_message(document.failure_kind, document.error),
        retryable=kind.retryable,
    )


@dataclass
class Batch:
    """What became of a batch of uploads or URLs, for one summary banner."""

    queued: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    # How the queued ones are counted and what happens to them next.
    noun: str = "files"
    next_step: str = "queued"
    # Queued ones the broker refused: kept, and sent once it is back.
    waiting: int = 0

    def add(self, created: Any, name: str) -> None:
        """Count one accepted item: queued (waiting or not) or a duplicate."""
        if created.duplicate:
            self.duplicates.append(name)
            return
        self.queued.append(name)
        if created.document.stage == queue.WAITING_FOR_QUEUE:
            self.waiting += 1

    def summary(self) -> str:
        """One sentence per outcome: queued, already here, not accepted."""
        parts = []
        if len(self.queued) == 1:
            parts.append(f"{self.queued[0]} is {self.next_step}.")
        elif self.queued:
            parts.append(
                f"{len(self.queued)} {self.noun} are {self.next_step}: "
                f"{', '.join(self.queued)}."
            )
        if self.duplicates:
            parts.append(f"Not added again: {'; '.join(self.duplicates)}.")
        if self.refused:
            parts.append(f"Not accepted: {' '.join(self.refused)}")
        if self.waiting:
            parts.append(
                "The task queue is not answering right now, so nothing is being "
                "processed yet: what was accepted is kept and starts on its own "
                "once the queue is back (it reads “waiting for the queue” below)."
            )
        return " ".join(parts)

    @property
    def level(self) -> int:
        """Success when all went in, a warning for a mix, an error for none."""
        if self.refused:
            return messages.WARNING if self.queued else messages.ERROR
        if self.waiting:
            return messages.WARNING
        return messages.SUCCESS if self.queued else messages.WARNING


def batch_message(request: HttpRequest, batch: Batch) -> None:
    """Show one banner for the whole batch, however many it held."""
    messages.add_message(request, batch.level, batch.summary())
