"""The fake Anthropic's web fetch tool: its definition checks, and the fetches.

The tool is generally available (no beta header) in the versions the SDK types
(anthropic 2.15.0): web_fetch_20250910 and _20260209 take the same options,
_20260309 adds ``use_cache``, _20260318 adds ``response_inclusion``. An option a
version does not know is refused, as the API's strict schema does.

The fake never reaches the network: tests register pages,
``fake.web_pages[url] = (title, text)``, or an error code for a URL,
``fake.web_errors[url] = "content_too_large"``; any other URL answers
``url_not_accessible``. The "model" fetches each http(s) word of the last user
turn, in order. The rules below are written for the fake, not taken from Cairn.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from tests.fakes import _text
from tests.fakes._server import random_id

TOOL_NAME = "web_fetch"
MAX_URL_CHARS = 250
# The SDK's name for the error block; the older docs page says
# "web_fetch_tool_error" (and "invalid_input" where the SDK says
# "invalid_tool_input").
ERROR_TYPE = "web_fetch_tool_result_error"
_COMMON_KEYS = frozenset(
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
VERSIONS: dict[str, frozenset[str]] = {
    "web_fetch_20250910": _COMMON_KEYS,
    "web_fetch_20260209": _COMMON_KEYS,
    "web_fetch_20260309": _COMMON_KEYS | {"use_cache"},
    "web_fetch_20260318": _COMMON_KEYS | {"use_cache", "response_inclusion"},
}

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
    allowed = VERSIONS.get(tool["type"])
    if allowed is None:
        raise invalid(
            f"{where}.type: Input tag {tool['type']!r} found using 'type' does not "
            "match any of the expected tags"
        )
    extra = sorted(set(tool) - allowed)
    if extra:
        raise invalid(f"{where}.{extra[0]}: Extra inputs are not permitted")
    if tool["name"] != TOOL_NAME:
        raise invalid(f"{where}.name: Input should be {TOOL_NAME!r}")
    for key in ("max_uses", "max_content_tokens"):
        value = tool.get(key)
        if value is not None and (type(value) is not int or value < 1):
            raise invalid(f"{where}.{key}: Input should be greater than 0")
    if "use_cache" in tool and type(tool["use_cache"]) is not bool:
        raise invalid(f"{where}.use_cache: Input should be a valid boolean")
    if tool.get("response_inclusion", "full") not in ("full", "excluded"):
        raise invalid(
            f"{where}.response_inclusion: Input should be 'full' or 'excluded'"
        )
    citations = tool.get("citations")
    if citations is not None and (
        not isinstance(citations, dict)
        or set(citations) - {"enabled"}
        or type(citations.get("enabled", False)) is not bool
    ):
        raise invalid(f"{where}.citations: Input should be {{'enabled': bool}}")
    if (
        tool.get("allowed_domains") is not None
        and tool.get("blocked_domains") is not None
    ):
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
            if entry.lower().startswith(("http:", "https:")) or "//" in entry:
                raise invalid(
                    f"{where}.{key}: {entry!r}: domains must not include a scheme"
                )
    return tool


def _asked_urls(question: str) -> list[str]:
    """Each whitespace-separated http(s) word of the turn, edge punctuation off."""
    found: list[str] = []
    for word in question.split():
        word = word.strip("<>\"'()[],.;:!?")
        if word.lower().startswith(("http://", "https://")) and word not in found:
            found.append(word)
    return found


def _covered(entry: str, host: str, path: str) -> bool:
    """Whether a domain list entry ("a.com" or "a.com/docs") covers host and path.

    Hosts are compared label by label, so a look-alike host in another script
    never equals an ASCII entry; subdomains are covered, subpaths whole segments.
    """
    domain, _, prefix = entry.lower().partition("/")
    labels, wanted = host.split("."), domain.split(".")
    if labels[-len(wanted) :] != wanted:
        return False
    asked = [part for part in path.split("/") if part]
    needed = [part for part in prefix.split("/") if part]
    return asked[: len(needed)] == needed


def _refusal(url: str, tool: dict[str, Any]) -> str | None:
    """Why the tool refuses a URL before fetching it, or None."""
    if len(url) > MAX_URL_CHARS:
        return "url_too_long"
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".").lower()
        _ = parts.port
    except ValueError:
        return "invalid_tool_input"
    if not host:
        return "invalid_tool_input"
    allowed = tool.get("allowed_domains") or []
    if allowed and not any(_covered(e, host, parts.path) for e in allowed):
        return "url_not_allowed"
    if any(_covered(e, host, parts.path) for e in tool.get("blocked_domains") or []):
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
    for attempt, url in enumerate(_asked_urls(question), start=1):
        tool_use_id = random_id("srvtoolu_01", 22)
        blocks.append(
            {
                "type": "server_tool_use",
                "id": tool_use_id,
                "name": TOOL_NAME,
                "input": {"url": url},
            }
        )
        code = _refusal(url, tool)
        if code is None and max_uses is not None and attempt > max_uses:
            code = "max_uses_exceeded"
        code = (
            code or errors.get(url) or (None if url in pages else "url_not_accessible")
        )
        content: dict[str, Any]
        if code is not None:
            content = {"type": ERROR_TYPE, "error_code": code}
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
