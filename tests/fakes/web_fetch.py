"""The fake Anthropic's web fetch tool (web_fetch_20250910): checks and fetches.

The fake never reaches the network: tests register pages on the server,
``fake.web_pages[url] = (title, text)``, or an error for a URL,
``fake.web_errors[url] = "unsupported_content_type"``. Any other URL answers
``url_not_accessible``. Only URLs in the last user turn are fetched, one fetch per
URL in order, honouring ``max_uses``, the domain lists, the 250-character limit
and ``max_content_tokens``, as the documented tool does.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.fakes import _text
from tests.fakes._server import random_id

BETA = "web-fetch-2025-09-10"
TOOL_TYPE = "web_fetch_20250910"
TOOL_NAME = "web_fetch"
MAX_URL_CHARS = 250
# The SDK's (and so the API's) names; the older docs page says
# "web_fetch_tool_error" and "invalid_input".
ERROR_TYPE = "web_fetch_tool_result_error"
_TOOL_KEYS = frozenset(
    {
        "type",
        "name",
        "max_uses",
        "allowed_domains",
        "blocked_domains",
        "citations",
        "max_content_tokens",
        "cache_control",
        "allowed_callers",
        "defer_loading",
        "strict",
        "url_sources",
    }
)
_URL = re.compile(r"https?://[^\s<>\"'`{}|\\^]+", re.IGNORECASE)

Invalid = Callable[[str], Exception]


def check_tools(tools: Any, invalid: Invalid) -> dict[str, Any] | None:
    """Validate the request's tools; return the web fetch tool if there is one."""
    if tools is None:
        return None
    if not isinstance(tools, list):
        raise invalid("tools: Input should be a valid list")
    names: set[str] = set()
    found: dict[str, Any] | None = None
    for i, tool in enumerate(tools):
        where = f"tools.{i}"
        if not isinstance(tool, dict):
            raise invalid(f"{where}: Input should be a valid dictionary")
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise invalid(f"{where}.name: Field required")
        if name in names:
            raise invalid(f"tools: Tool names must be unique. Duplicate: {name!r}")
        names.add(name)
        kind = tool.get("type")
        if isinstance(kind, str) and kind.startswith("web_fetch"):
            found = _check_web_fetch(tool, where, invalid)
    return found


def _check_web_fetch(
    tool: dict[str, Any], where: str, invalid: Invalid
) -> dict[str, Any]:
    if tool["type"] != TOOL_TYPE:
        raise invalid(
            f"{where}.type: Input tag {tool['type']!r} found using 'type' does not "
            "match any of the expected tags"
        )
    extra = sorted(set(tool) - _TOOL_KEYS)
    if extra:
        raise invalid(f"{where}.{extra[0]}: Extra inputs are not permitted")
    if tool["name"] != TOOL_NAME:
        raise invalid(f"{where}.name: Input should be {TOOL_NAME!r}")
    for key in ("max_uses", "max_content_tokens"):
        value = tool.get(key)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 1
        ):
            raise invalid(f"{where}.{key}: Input should be greater than 0")
    citations = tool.get("citations")
    if citations is not None and (
        not isinstance(citations, dict)
        or set(citations) - {"enabled"}
        or not isinstance(citations.get("enabled", False), bool)
    ):
        raise invalid(f"{where}.citations: Input should be {{'enabled': bool}}")
    both = ("allowed_domains", "blocked_domains")
    if all(tool.get(key) is not None for key in both):
        raise invalid(
            f"{where}: Cannot specify both allowed_domains and blocked_domains"
        )
    for key in ("allowed_domains", "blocked_domains"):
        entries = tool.get(key)
        if entries is None:
            continue
        if not isinstance(entries, list) or not all(
            isinstance(e, str) and e for e in entries
        ):
            raise invalid(f"{where}.{key}: Input should be a list of domains")
        for entry in entries:
            if "://" in entry:
                raise invalid(
                    f"{where}.{key}: {entry!r}: domains must not include a scheme"
                )
    return tool


def urls_in(text: str) -> list[str]:
    """The URLs of a user turn, in order, without trailing punctuation."""
    found: list[str] = []
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(".,;:!?")
        while url.endswith(")") and url.count("(") < url.count(")"):
            url = url[:-1]
        if url not in found:
            found.append(url)
    return found


def _matches(entry: str, host: str, path: str) -> bool:
    domain, _, prefix = entry.lower().partition("/")
    if host != domain and not host.endswith("." + domain):
        return False
    if not prefix:
        return True
    wanted = "/" + prefix.rstrip("/")
    return path == wanted or path.startswith(wanted + "/")


def _error_code(url: str, tool: dict[str, Any]) -> str | None:
    """Why the tool would refuse a URL before fetching it, or None."""
    if len(url) > MAX_URL_CHARS:
        return "url_too_long"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "invalid_tool_input"
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return "invalid_tool_input"
    # Homographs: a non-ASCII host is compared in its punycode form, so
    # "exаmple.com" with a Cyrillic "а" never matches "example.com".
    try:
        host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return "invalid_tool_input"
    path = posixpath.normpath("/" + unquote(parts.path).lstrip("/"))
    allowed = tool.get("allowed_domains") or []
    blocked = tool.get("blocked_domains") or []
    if allowed and not any(_matches(e, host, path) for e in allowed):
        return "url_not_allowed"
    if any(_matches(e, host, path) for e in blocked):
        return "url_not_allowed"
    return None


def run(
    tool: dict[str, Any],
    question: str,
    pages: dict[str, tuple[str, str]],
    errors: dict[str, str],
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Fetch the question's URLs: the response blocks, and (title, text) fetched."""
    blocks: list[dict[str, Any]] = []
    fetched: list[tuple[str, str]] = []
    max_uses = tool.get("max_uses")
    citations = bool((tool.get("citations") or {}).get("enabled", False))
    max_chars = int(tool.get("max_content_tokens") or 10**9) * 4
    for attempt, url in enumerate(urls_in(question), start=1):
        tool_use_id = random_id("srvtoolu_01", 22)
        blocks.append(
            {
                "type": "server_tool_use",
                "id": tool_use_id,
                "name": TOOL_NAME,
                "input": {"url": url},
            }
        )
        code = _error_code(url, tool)
        if code is None and max_uses is not None and attempt > max_uses:
            code = "max_uses_exceeded"
        if code is None:
            code = errors.get(url)
        if code is None and url not in pages:
            code = "url_not_accessible"
        if code is not None:
            content: dict[str, Any] = {
                "type": ERROR_TYPE,
                "error_code": code,
            }
        else:
            title, text = pages[url]
            text = text[:max_chars]
            fetched.append((title, text))
            content = {
                "type": "web_fetch_result",
                "url": url,
                "content": {
                    "type": "document",
                    "source": {
                        "type": "text",
                        "media_type": "text/plain",
                        "data": text,
                    },
                    "title": title,
                    "citations": {"enabled": citations},
                },
                "retrieved_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            }
        blocks.append(
            {
                "type": "web_fetch_tool_result",
                "tool_use_id": tool_use_id,
                "content": content,
            }
        )
    return blocks, fetched


def tokens(text: str) -> int:
    """Input tokens a fetched page adds to the context."""
    return _text.claude_tokens(text)
