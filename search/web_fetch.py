"""Claude's web fetch tool: the tool definition, and reading fetches and citations.

The tool is offered only when the workspace enables it and the question names a
URL: Claude may only fetch URLs that appear in the conversation anyway, and a
question without one has nothing to fetch.
"""

from __future__ import annotations

import re
from typing import Any

from documents.models import Workspace

# The newest version the SDK types (anthropic 2.15.0: WebFetchTool20260318Param);
# generally available, so no beta header. It adds use_cache (20260309) and
# response_inclusion (only for fetches made from code execution, unused here).
TOOL_TYPE = "web_fetch_20260318"
TOOL_NAME = "web_fetch"
SYSTEM_ADDITION = (
    " The user may name web pages: fetch them with the web_fetch tool when the "
    "question needs them, treat fetched pages like the provided documents, and "
    "cite them the same way."
)
_URL = re.compile(r"https?://[^\s<>\"'`{}|\\^]+", re.IGNORECASE)


def urls_in(text: str) -> list[str]:
    """The http(s) URLs in a text, in order, without trailing punctuation."""
    found: list[str] = []
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(".,;:!?")
        while url.endswith(")") and url.count("(") < url.count(")"):
            url = url[:-1]
        if url not in found:
            found.append(url)
    return found


def tool_for(workspace: Workspace, question: str) -> dict[str, Any] | None:
    """The tool definition for this workspace and question, or None."""
    if not workspace.web_fetch_enabled or not urls_in(question):
        return None
    tool: dict[str, Any] = {
        "type": TOOL_TYPE,
        "name": TOOL_NAME,
        "max_uses": workspace.web_fetch_max_uses,
        "citations": {"enabled": True},
        "max_content_tokens": workspace.web_fetch_max_content_tokens,
    }
    if not workspace.web_fetch_use_cache:
        tool["use_cache"] = False
    # The API refuses both lists at once; the settings form never stores both.
    if workspace.allowed_domains:
        tool["allowed_domains"] = list(workspace.allowed_domains)
    elif workspace.blocked_domains:
        tool["blocked_domains"] = list(workspace.blocked_domains)
    return tool


def add_to_request(request: dict[str, Any], tool: dict[str, Any]) -> None:
    """Put the tool into a Messages request (generally available: no beta)."""
    request["tools"] = [*request.get("tools", []), tool]
    request["system"] = str(request.get("system", "")) + SYSTEM_ADDITION


def parse_fetches(content: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each web fetch of a response: url, title, retrieved_at, error_code."""
    requested: dict[str, str] = {}
    fetches: list[dict[str, Any]] = []
    for block in content:
        kind = block.get("type")
        if kind == "server_tool_use" and block.get("name") == TOOL_NAME:
            requested[str(block.get("id"))] = str(
                (block.get("input") or {}).get("url", "")
            )
        elif kind == "web_fetch_tool_result":
            result = block.get("content") or {}
            url = requested.get(str(block.get("tool_use_id")), "")
            if result.get("type") == "web_fetch_result":
                document = result.get("content") or {}
                fetches.append(
                    {
                        "url": str(result.get("url") or url),
                        "title": str(document.get("title") or result.get("url") or url),
                        "retrieved_at": result.get("retrieved_at"),
                        "error_code": None,
                    }
                )
            else:
                fetches.append(
                    {
                        "url": url,
                        "title": url,
                        "retrieved_at": None,
                        "error_code": str(result.get("error_code") or "unavailable"),
                    }
                )
    return fetches


def is_fetched(citation: dict[str, Any], first_index: int) -> bool:
    """Whether a citation points past the request's documents, at a fetched page."""
    index = citation.get("document_index")
    return isinstance(index, int) and index >= first_index


def web_citations(
    block: dict[str, Any], first_index: int, fetches: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A text block's citations into fetched pages, as {fetch, cited_text, ...}.

    Fetched documents are numbered after the request's own documents, in the
    order the fetches succeeded.
    """
    succeeded = [i for i, fetch in enumerate(fetches) if fetch["error_code"] is None]
    found = []
    for citation in block.get("citations") or []:
        if not is_fetched(citation, first_index):
            continue
        position = int(citation["document_index"]) - first_index
        if position >= len(succeeded):
            continue
        raw = str(citation.get("cited_text") or "")
        start, end = citation.get("start_char_index"), citation.get("end_char_index")
        if isinstance(start, int) and isinstance(end, int):
            # Keep the range on the quoted words, not their surrounding spaces.
            start += len(raw) - len(raw.lstrip())
            end -= len(raw) - len(raw.rstrip())
        found.append(
            {
                "fetch": succeeded[position],
                "cited_text": raw.strip(),
                "start_char": start,
                "end_char": end,
            }
        )
    return found
