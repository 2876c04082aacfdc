"""How documents read on the pages: type names, the Files API badge, failures."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from documents.ingestion import extraction, failures, images
from documents.models import Document

# The names people know file types by, instead of MIME types.
KIND_NAMES = {
    extraction.PDF: "PDF",
    extraction.DOCX: "Word",
    extraction.HTML: "HTML",
    extraction.CSV: "CSV",
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
