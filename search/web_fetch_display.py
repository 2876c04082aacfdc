"""The answer page's view of Claude's web fetches and citations into them."""

from __future__ import annotations

from typing import Any

from django.utils.dateparse import parse_datetime

from search.models import Answer


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
