"""Kinds of ingestion failure: a plain message for people, and whether a retry helps.

The technical reason stays in Document.error for admins (the admin and the
health page show it); the documents pages show the kind's message instead.
Extraction raises one ExtractionError for every problem, so the kind is read
from the error's cause and wording; tests feed each kind real bad input, so
a changed wording fails a test instead of silently falling back.
"""

from __future__ import annotations

from dataclasses import dataclass

from documents.ingestion.extraction import SUPPORTED_DESCRIPTION
from documents.remote import web as web_sources


@dataclass(frozen=True)
class Kind:
    """One kind of failure: its code, the message people read, retry or not."""

    code: str
    message: str
    retryable: bool
    # Show the recorded reason instead: extraction's own words for a problem
    # no kind names (they are written for people, without library jargon).
    shows_reason: bool = False


KINDS = {
    kind.code: kind
    for kind in (
        Kind(
            "damaged",
            "This file is damaged and cannot be read. Check that it opens on your "
            "computer, then upload a repaired copy or export it again.",
            retryable=False,
        ),
        Kind(
            "encrypted",
            "This PDF is locked with a password. Upload a copy without the password.",
            retryable=False,
        ),
        Kind(
            "scanned",
            "This PDF has no text, only images of pages (a scan). Run it through "
            "text recognition (OCR) and upload the result.",
            retryable=False,
        ),
        Kind(
            "no_text_recognised",
            "No text could be recognised in this file: OCR read it and found "
            "none. The scan or image may be blank, too faint, or handwriting.",
            retryable=False,
        ),
        Kind(
            "empty",
            "This file has no text to search.",
            retryable=False,
        ),
        Kind(
            "unsupported",
            f"Cairn cannot read this kind of file. It reads {SUPPORTED_DESCRIPTION}.",
            retryable=False,
        ),
        Kind(
            "unreadable",
            "This file could not be read.",
            retryable=False,
            shows_reason=True,
        ),
        Kind(
            "url_refused",
            "Cairn does not fetch this address: it is internal or not allowed in "
            "this workspace. A workspace admin can allow intranet hosts on Web "
            "settings.",
            retryable=False,
        ),
        Kind(
            "url_unsupported",
            "This address does not lead to a web page, text or PDF that Cairn "
            "can read.",
            retryable=False,
        ),
        Kind(
            "url_unreachable",
            "The page could not be fetched: the site did not answer, was too "
            "slow, or answered with an error. Try again later.",
            retryable=True,
        ),
        Kind(
            "service",
            "An outside service (file storage or embeddings) kept failing. "
            "Try again in a few minutes.",
            retryable=True,
        ),
        Kind(
            "internal",
            "Something went wrong while processing this file. Try again; if it "
            "fails again, tell your administrator.",
            retryable=True,
        ),
    )
}
# Failures recorded before kinds existed: offer a retry, as the page always did.
UNKNOWN = Kind("", "Processing failed.", retryable=True)

_WEB_CODES = {
    web_sources.URL_NOT_ALLOWED: "url_refused",
    web_sources.URL_TOO_LONG: "url_refused",
    web_sources.INVALID_INPUT: "url_refused",
    web_sources.UNSUPPORTED_CONTENT_TYPE: "url_unsupported",
    web_sources.URL_NOT_ACCESSIBLE: "url_unreachable",
}

# Wording of extraction's errors, most specific first.
_PHRASES = (
    ("password", "encrypted"),
    ("encrypted", "encrypted"),
    ("no text layer", "scanned"),
    ("could be recognised", "no_text_recognised"),
    ("damaged", "damaged"),
    ("has no pages", "damaged"),
    ("is not a pdf", "damaged"),
    ("is not a word document", "damaged"),
    ("unsupported file type", "unsupported"),
    ("not supported", "unsupported"),
    ("not text in any encoding", "unsupported"),
    ("never extracted", "internal"),
    ("no text", "empty"),
    ("is empty", "empty"),
)


def kind_of_extraction_error(exc: BaseException) -> str:
    """The kind of an ExtractionError, from its cause (a refused URL) or wording."""
    cause = exc.__cause__
    if isinstance(cause, web_sources.WebError):
        return _WEB_CODES.get(cause.code, "url_unreachable")
    text = str(exc).lower()
    for phrase, kind in _PHRASES:
        if phrase in text:
            return kind
    return "unreadable"


def kind_for(code: str) -> Kind:
    """The Kind for a stored code ('' or unknown: the generic one)."""
    return KINDS.get(code, UNKNOWN)


def plain_message(code: str, error: str) -> str:
    """What a person reads for a failure: the kind's message.

    A failure without a known kind (recorded before kinds existed) shows its
    recorded reason, as the page always did.
    """
    kind = KINDS.get(code)
    if kind is None or kind.shows_reason:
        return error or (kind or UNKNOWN).message
    return kind.message
