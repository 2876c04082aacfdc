"""Kinds of ingestion failure: a plain message for people, and whether a retry helps.

The technical reason stays in Document.error for admins (the admin and the
health page show it); the documents pages show the kind's message instead.
Each error names its kind where it is raised (documents.ingestion.kinds, an
ExtractionError's or FormatError's `kind`, carried across the extraction
child's boundary), so a kind never depends on the wording of a message.
"""

from __future__ import annotations

from dataclasses import dataclass

from documents.ingestion import kinds
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
            kinds.DAMAGED,
            "This file is damaged and cannot be read. Check that it opens on your "
            "computer, then upload a repaired copy or export it again.",
            retryable=False,
        ),
        Kind(
            kinds.ENCRYPTED,
            "This PDF is locked with a password. Upload a copy without the password.",
            retryable=False,
        ),
        Kind(
            kinds.SCANNED,
            "This PDF has no text, only images of pages (a scan). Run it through "
            "text recognition (OCR) and upload the result.",
            retryable=False,
        ),
        Kind(
            kinds.NO_TEXT_RECOGNISED,
            "No text could be recognised in this file: OCR read it and found "
            "none. The scan or image may be blank, too faint, or handwriting.",
            retryable=False,
        ),
        Kind(
            kinds.EMPTY,
            "This file has no text to search.",
            retryable=False,
        ),
        Kind(
            kinds.UNSUPPORTED,
            f"Cairn cannot read this kind of file. It reads {SUPPORTED_DESCRIPTION}.",
            retryable=False,
        ),
        Kind(
            kinds.UNREADABLE,
            "This file could not be read.",
            retryable=False,
            shows_reason=True,
        ),
        Kind(
            kinds.URL_REFUSED,
            "Cairn does not fetch this address: it is internal or not allowed in "
            "this workspace. A workspace admin can allow intranet hosts on Web "
            "settings.",
            retryable=False,
        ),
        Kind(
            kinds.URL_UNSUPPORTED,
            "This address does not lead to a web page, text or PDF that Cairn "
            "can read.",
            retryable=False,
        ),
        Kind(
            kinds.URL_UNREACHABLE,
            "The page could not be fetched: the site did not answer, was too "
            "slow, or answered with an error. Try again later.",
            retryable=True,
        ),
        Kind(
            kinds.SERVICE,
            "An outside service (file storage or embeddings) kept failing. "
            "Try again in a few minutes.",
            retryable=True,
        ),
        Kind(
            kinds.INTERNAL,
            "Something went wrong while processing this file. Try again; if it "
            "fails again, tell your administrator.",
            retryable=True,
        ),
    )
}
# Failures recorded before kinds existed: offer a retry, as the page always did.
UNKNOWN = Kind("", "Processing failed.", retryable=True)

_WEB_CODES = {
    web_sources.URL_NOT_ALLOWED: kinds.URL_REFUSED,
    web_sources.URL_TOO_LONG: kinds.URL_REFUSED,
    web_sources.INVALID_INPUT: kinds.URL_REFUSED,
    web_sources.UNSUPPORTED_CONTENT_TYPE: kinds.URL_UNSUPPORTED,
    web_sources.URL_NOT_ACCESSIBLE: kinds.URL_UNREACHABLE,
}


def kind_of_web_error(exc: web_sources.WebError) -> str:
    """The kind of a refused or failed fetch, from the web fetch error code."""
    return _WEB_CODES.get(exc.code, kinds.URL_UNREACHABLE)


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
