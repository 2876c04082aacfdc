"""The answer page's view of Claude's web fetches and citations into them."""

from __future__ import annotations

from typing import Any

from django.utils.dateparse import parse_datetime

from search.models import Answer

# Every error code of WebFetchToolResultErrorCode (anthropic 2.15.0), as a reader
# would want it said. A code not listed yet is shown as it came.
FETCH_ERRORS = {
    "invalid_tool_input": "The address is not a valid URL.",
    "url_too_long": "The address is longer than the 250 characters allowed.",
    "url_not_allowed": "This workspace's domain rules do not allow this site.",
    "url_not_in_prior_context": (
        "Claude may only fetch addresses that appear in the conversation."
    ),
    "url_not_accessible": "The page could not be reached (an HTTP error).",
    "unsupported_content_type": "Only web pages and PDFs can be fetched.",
    "too_many_requests": "Too many fetches right now; try again shortly.",
    "max_uses_exceeded": "The workspace's limit of fetches per answer was reached.",
    "unavailable": "The fetch tool failed on Anthropic's side.",
    "content_too_large": "The page is too large to fetch.",
}


def fetch_error_text(code: str) -> str:
    """A sentence for a web fetch error code."""
    return FETCH_ERRORS.get(code, f"The fetch failed ({code}).")


def safe_url(value: Any) -> str:
    """The URL if it is http(s), else '' (never a javascript: link on the page)."""
    url = str(value or "")
    return url if url.lower().startswith(("http://", "https://")) else ""


def fetch_rows(answer: Answer) -> list[dict[str, Any]]:
    """Each fetch with a parsed time, for the 'Fetched pages' list."""
    rows = []
    for number, fetch in enumerate(answer.web_fetches or [], start=1):
        retrieved = fetch.get("retrieved_at")
        rows.append(
            fetch
            | {
                "url": safe_url(fetch.get("url")),
                "number": number,
                "retrieved": parse_datetime(retrieved) if retrieved else None,
                "ok": not fetch.get("error_code"),
                "error_text": (
                    fetch_error_text(str(fetch["error_code"]))
                    if fetch.get("error_code")
                    else ""
                ),
            }
        )
    return rows


def number_web_citations(
    answer: Answer, segments: list[dict[str, Any]], *, first: int
) -> list[dict[str, Any]]:
    """Give each citation into a fetched page an ordinal after the documents' ones.

    Adds segment["web"] (the numbered citations of that segment) to each segment
    and returns all of them in answer order for the Sources list.
    """
    fetches = answer.web_fetches or []
    numbered: list[dict[str, Any]] = []
    for segment, stored in zip(segments, answer.segments, strict=True):
        segment["web"] = []
        for citation in stored.get("web", []):
            index = citation.get("fetch")
            if not isinstance(index, int) or not 0 <= index < len(fetches):
                continue
            fetch = fetches[index]
            item = citation | {
                "ordinal": first + len(numbered),
                "url": safe_url(fetch.get("url")),
                "title": fetch.get("title") or fetch["url"],
            }
            segment["web"].append(item)
            numbered.append(item)
    return numbered
