"""Local fake of the Anthropic Messages and Files APIs, driven by the real SDK.

Usage::

    fake = FakeAnthropic().start()
    client = anthropic.Anthropic(api_key="k", base_url=fake.base_url, max_retries=0)
    meta = client.beta.files.upload(
        file=("a.txt", b"Llamas eat grass.", "text/plain"),
        betas=["files-api-2025-04-14"],
    )

Run standalone with ``python -m tests.fakes.anthropic --port 8001``.

What it checks, like the real API: an API key (``x-api-key`` or ``Authorization:
Bearer``), the ``anthropic-version`` header, well-formed ``anthropic-beta`` values,
the files beta on every Files endpoint and for ``file`` document sources, filename
rules, per-file and storage limits, request shape (roles, blocks, sources, cache
breakpoints, citations all-or-none, PDF page limit, context window) and model names.

The web fetch tool (GA, ``web_fetch_20250910`` to ``web_fetch_20260318``) is
validated strictly and "fetches" only pages registered on the fake
(``fake.web_pages[url] = (title, text)``, ``fake.web_errors[url] = code``); see
tests/fakes/web_fetch.py. Fetched pages are cited like documents, numbered after
the request's own documents.

Answers are deterministic: the sentences of the documents that share the most words
with the last user turn are cited, with offsets that index the real document text.
Error bodies are ``{"type": "error", "error": {"type", "message"}, "request_id"}``
with the real status codes; errors that the SDK knows by code carry
``error.details.error_code`` (``storage_quota_exceeded``, ``file_not_downloadable``).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.parser import HeaderParser
from typing import Any, Literal

from tests.fakes import _text, code_execution, web_fetch
from tests.fakes._server import (
    FakeHTTPServer,
    Incoming,
    Reply,
    iter_sse,
    json_reply,
    random_id,
)
from tests.fakes.pdf import PdfError, page_texts

# The beta names the API still accepts (the SDK's AnthropicBetaParam, 2.15.0, the
# ones a Cairn request could carry). Features that went GA dropped theirs:
# "web-fetch-2025-09-10" is not among them, and the real API answers 400 to a
# name it does not know.
KNOWN_BETAS = frozenset(
    {
        "files-api-2025-04-14",
        "extended-cache-ttl-2025-04-11",
        "prompt-caching-2024-07-31",
        "pdfs-2024-09-25",
        "token-counting-2024-11-01",
        "context-1m-2025-08-07",
        "interleaved-thinking-2025-05-14",
    }
)
NOT_FOUND_ANSWER = "I could not find this in the provided documents."
ANSWER_INTRO = "Based on the documents:"
MAX_CACHE_BREAKPOINTS = 4
# The real cache looks this many blocks back from a breakpoint for an earlier hit.
CACHE_LOOKBACK_BLOCKS = 20
FORBIDDEN_FILENAME_CHARS = frozenset('<>:"|?*\\/') | {chr(c) for c in range(32)}
_BETA_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*-\d{4}-\d{2}-\d{2}$")
_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# httpx (like browsers) escapes these in multipart filenames; servers undo it.
_HTML5_ESCAPE = re.compile(r"%(22|[01][0-9A-Fa-f])")
_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_DOCUMENT_FILE_TYPES = frozenset({"application/pdf", "text/plain"})
# The request fields this fake models: the ones Cairn sends. The real API takes
# more (temperature, thinking, tool_choice, ...); here they are refused like
# unknown fields, so a field Cairn starts to send gets its checks first.
_CREATE_FIELDS = frozenset(
    {"model", "max_tokens", "messages", "system", "stream", "metadata", "tools"}
)


def _model(
    model_id: str,
    name: str,
    created: str,
    lifecycle: str = "active",
    deprecated_at: str | None = None,
    retires_at: str | None = None,
) -> dict[str, Any]:
    """One entry of GET /v1/models, with the lifecycle fields of the current API."""
    return {
        "type": "model",
        "id": model_id,
        "display_name": name,
        "created_at": created,
        "lifecycle": lifecycle,
        "deprecated_at": deprecated_at,
        "retires_at": retires_at,
        "max_input_tokens": 1_000_000 if "-5" in model_id else 200_000,
        "max_tokens": 128_000 if "-5" in model_id else 64_000,
    }


# What the fake's Models API lists, newest first. A retired model stays listed
# (the historical record) but Messages refuses it, like a model never heard of.
MODELS = (
    _model("claude-sonnet-5-5", "Claude Sonnet 5.5", "2026-09-15T00:00:00Z"),
    _model("claude-sonnet-4-6", "Claude Sonnet 4.6", "2026-02-17T00:00:00Z"),
    _model(
        "claude-opus-4-5",
        "Claude Opus 4.5",
        "2025-11-24T00:00:00Z",
        "deprecated",
        "2026-07-22T00:00:00Z",
        "2027-01-22T00:00:00Z",
    ),
    _model("claude-haiku-4-5", "Claude Haiku 4.5", "2025-10-15T00:00:00Z"),
    _model(
        "claude-sonnet-4-5",
        "Claude Sonnet 4.5",
        "2025-09-29T00:00:00Z",
        "retired",
        "2026-05-30T00:00:00Z",
        "2026-11-30T00:00:00Z",
    ),
)


class ApiError(Exception):
    """An error answer with the real API's status, type and message."""

    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        *,
        error_code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Keep the parts of the error body."""
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.error_code = error_code
        self.headers = dict(headers or {})


def _invalid(message: str) -> ApiError:
    """Build a 400 invalid_request_error."""
    return ApiError(400, "invalid_request_error", message)


def _readable(stored: StoredFile) -> StoredFile:
    """The file, or the 404 `file_expired` the API answers once it has expired."""
    if stored.expired():
        raise ApiError(
            404,
            "not_found_error",
            f"File {stored.id} has expired and its content is no longer available.",
            error_code="file_expired",
        )
    return stored


def rfc3339(moment: datetime) -> str:
    """Format a UTC time like the API: 2025-01-01T00:00:00.123456Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class StoredFile:
    """A file held by the fake Files API."""

    id: str
    filename: str
    mime_type: str
    data: bytes
    created_at: str
    seq: int
    expires_at: str | None = None
    # Only files a tool created (code execution) can be downloaded.
    downloadable: bool = False

    def expired(self) -> bool:
        """Tell whether the file is past its expires_at (its bytes are gone)."""
        if self.expires_at is None:
            return False
        moment = datetime.fromisoformat(self.expires_at.replace("Z", "+00:00"))
        return moment <= datetime.now(UTC)

    def metadata(self) -> dict[str, Any]:
        """Return the API's file metadata object."""
        return {
            "id": self.id,
            "type": "file",
            "filename": self.filename,
            "mime_type": self.mime_type,
            "size_bytes": len(self.data),
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "downloadable": self.downloadable,
        }


@dataclass(frozen=True)
class Unit:
    """A citable unit of a document: a sentence, or a custom-content block."""

    cited_text: str
    answer_text: str
    terms: frozenset[str]
    location: dict[str, Any]


@dataclass
class Document:
    """A document block of the request, resolved to its citable units."""

    index: int
    kind: Literal[
        "char_location",
        "page_location",
        "content_block_location",
        "search_result_location",
    ]
    title: str | None
    file_id: str | None
    citations: bool
    units: list[Unit]
    tokens: int


@dataclass
class Prompt:
    """A validated Messages request."""

    model: str
    max_tokens: int
    stream: bool
    question: str
    documents: list[Document] = field(default_factory=list)
    # search_result blocks, numbered apart from documents (search_result_index).
    search_results: list[Document] = field(default_factory=list)
    # One (canonical text, token estimate) per prompt block, in prompt order.
    parts: list[tuple[str, int]] = field(default_factory=list)
    # Indexes into parts that carry cache_control, with their TTL.
    breakpoints: list[tuple[int, str]] = field(default_factory=list)
    # The web fetch tool's definition, when the request offers it.
    web_fetch: dict[str, Any] | None = None
    # The code execution tool, and the files container_upload blocks name.
    code_execution: dict[str, Any] | None = None
    container_files: list[StoredFile] = field(default_factory=list)

    @property
    def total_tokens(self) -> int:
        """Estimated input tokens of the whole prompt."""
        return sum(tokens for _, tokens in self.parts)


def _text_units(text: str, kind: str, page: int | None = None) -> list[Unit]:
    """Split text into sentence units with exact citation locations."""
    units = []
    for start, end in _text.sentence_spans(text):
        cited = text[start:end]
        if kind == "char_location":
            location = {"start_char_index": start, "end_char_index": end}
        else:
            assert page is not None
            location = {"start_page_number": page, "end_page_number": page + 1}
        units.append(
            Unit(
                cited_text=cited,
                answer_text=" ".join(cited.split()),
                terms=frozenset(_text.content_terms(cited)),
                location=location,
            )
        )
    return units


def _drop_cache_control(block: Any) -> Any:
    """Return the block without cache_control, so it does not change cache keys."""
    if isinstance(block, dict):
        return {k: v for k, v in block.items() if k != "cache_control"}
    return block


def _split_deltas(text: str, pieces: int = 3) -> list[str]:
    """Split text at word boundaries into a few streaming deltas."""
    tokens = re.findall(r"\S+\s*|\s+", text)
    if len(tokens) <= 1:
        return [text]
    size = max(1, -(-len(tokens) // pieces))
    return ["".join(tokens[i : i + size]) for i in range(0, len(tokens), size)]


class FakeAnthropic(FakeHTTPServer):
    """Fake Anthropic API: Files, Models, and Messages with citations (all GA)."""

    max_file_bytes: int
    storage_limit_bytes: int
    storage_limit_status: int
    max_request_bytes: int
    context_window_tokens: int
    max_output_tokens: int
    max_pdf_pages: int
    min_cacheable_tokens: int
    cache_ttl_s: float
    api_keys: set[str] | None

    def _reset_state(self) -> None:
        """Forget files and cache entries and restore every tunable to its default."""
        self.files: dict[str, StoredFile] = {}
        self._next_seq = 0
        self._cache: dict[str, float] = {}
        self._pdf_pages: dict[str, list[str]] = {}
        # 500 MB per file and 100 GB per organization, as documented.
        self.max_file_bytes = 500 * 1024**2
        self.storage_limit_bytes = 100 * 1024**3
        # The SDK types this as StorageQuotaExceededError (400 + error_code); the
        # older docs page says 403. Set 403 to get the documented permission_error.
        self.storage_limit_status = 400
        self.max_request_bytes = 32 * 1024**2
        self.context_window_tokens = 200_000
        self.max_output_tokens = 64_000
        self.max_pdf_pages = 100
        # Shorter prefixes are silently not cached by the real API (Sonnet: 1024).
        self.min_cacheable_tokens = 1024
        self.cache_ttl_s = 300.0
        # None accepts any non-empty key; a set accepts only those keys.
        self.api_keys = None
        # The Models API's list; tests may add or change entries.
        self.models: list[dict[str, Any]] = [dict(m) for m in MODELS]
        # What the web fetch tool "fetches": url -> (title, text), or an error code.
        self.web_pages: dict[str, tuple[str, str]] = {}
        self.web_errors: dict[str, str] = {}

    # -- plumbing ----------------------------------------------------------

    def error_reply(self, error: ApiError, request_id: str) -> Reply:
        """Build the real error body for an ApiError."""
        inner: dict[str, Any] = {"type": error.error_type, "message": error.message}
        if error.error_code:
            inner["details"] = {"error_code": error.error_code}
        body = {"type": "error", "error": inner, "request_id": request_id}
        return json_reply(error.status, body, error.headers)

    def internal_error(self, incoming: Incoming) -> Reply:
        """Answer a bug in the fake as the API would answer a server fault."""
        error = ApiError(500, "api_error", "Internal server error")
        return self.error_reply(error, incoming.request_id)

    def summarize_body(self, incoming: Incoming) -> Any:
        """Summarize multipart uploads instead of keeping their bytes."""
        content_type = incoming.headers.get("content-type", "")
        if not content_type.startswith("multipart/"):
            return super().summarize_body(incoming)
        try:
            fields, parts = parse_multipart(content_type, incoming.raw)
        except ValueError as exc:
            return {"error": str(exc)}
        return {
            "fields": fields,
            "files": [
                {
                    "name": p.name,
                    "filename": p.filename,
                    "content_type": p.content_type,
                    "size": len(p.data),
                }
                for p in parts
            ],
        }

    def route(self, incoming: Incoming) -> Reply:
        """Check credentials and headers, apply fail_next, then answer."""
        try:
            self._check_auth(incoming)
            streaming = self._wants_stream(incoming)
            failure = self._take_failure(incoming.path, streaming=streaming)
            if failure is not None and not failure.during_stream:
                raise ApiError(
                    failure.status,
                    failure.error_type,
                    failure.message,
                    error_code=failure.error_code,
                    headers=failure.headers,
                )
            if failure is not None:
                return self._broken_stream(
                    incoming, failure.error_type, failure.message
                )
            return self._route(incoming)
        except ApiError as error:
            return self.error_reply(error, incoming.request_id)

    def _wants_stream(self, incoming: Incoming) -> bool:
        """Tell whether this is a streaming Messages request."""
        if incoming.method != "POST" or incoming.path != "/v1/messages":
            return False
        try:
            body = json.loads(incoming.raw)
        except ValueError:
            return False
        return isinstance(body, dict) and body.get("stream") is True

    def _check_auth(self, incoming: Incoming) -> None:
        """Require an API key and a valid anthropic-version header."""
        headers = incoming.headers
        key = headers.get("x-api-key", "")
        bearer = headers.get("authorization", "")
        if not key and bearer.lower().startswith("bearer "):
            key = bearer[7:].strip()
        if not key:
            raise ApiError(401, "authentication_error", "x-api-key header is required")
        if self.api_keys is not None and key not in self.api_keys:
            raise ApiError(401, "authentication_error", "invalid x-api-key")
        version = headers.get("anthropic-version")
        if not version:
            raise _invalid("anthropic-version: header is required")
        if not _VERSION.match(version):
            raise _invalid(f"anthropic-version: invalid version {version!r}")

    def _betas(self, incoming: Incoming) -> set[str]:
        """Return the anthropic-beta values, rejecting any the API does not know."""
        raw = incoming.headers.get("anthropic-beta", "")
        betas = {b.strip() for b in raw.split(",") if b.strip()}
        bad = sorted(betas - KNOWN_BETAS)
        if bad:
            raise _invalid(
                f"Unexpected value(s) `{'`, `'.join(bad)}` for the `anthropic-beta` "
                "header. Please consult our documentation at docs.claude.com or try "
                "again without the header."
            )
        return betas

    def _route(self, incoming: Incoming) -> Reply:
        """Dispatch to the endpoint for this method and path."""
        path, method = incoming.path, incoming.method
        self._betas(incoming)
        if path == "/v1/files":
            if method == "POST":
                return self._upload(incoming)
            if method == "GET":
                return self._list_files(incoming)
            raise ApiError(405, "invalid_request_error", "Method not allowed")
        match = re.fullmatch(r"/v1/files/([^/]+)(/content)?", path)
        if match:
            stored = self._get_file(match.group(1))
            if match.group(2):
                if method != "GET":
                    raise ApiError(405, "invalid_request_error", "Method not allowed")
                _readable(stored)
                if stored.downloadable:
                    return Reply(200, stored.data, content_type=stored.mime_type)
                raise ApiError(
                    400,
                    "invalid_request_error",
                    f"File {stored.id} is not downloadable: only files created by "
                    "skills or the code execution tool can be downloaded.",
                    error_code="file_not_downloadable",
                )
            if method == "GET":
                return json_reply(200, stored.metadata())
            if method == "DELETE":
                with self._lock:
                    self.files.pop(stored.id, None)
                return json_reply(200, {"id": stored.id, "type": "file_deleted"})
            raise ApiError(405, "invalid_request_error", "Method not allowed")
        if path == "/v1/models" or path.startswith("/v1/models/"):
            if method != "GET":
                raise ApiError(405, "invalid_request_error", "Method not allowed")
            return self._models(incoming, path.removeprefix("/v1/models").strip("/"))
        if path == "/v1/messages":
            if method != "POST":
                raise ApiError(405, "invalid_request_error", "Method not allowed")
            return self._messages(incoming)
        raise ApiError(404, "not_found_error", "Not Found")

    # -- Models API --------------------------------------------------------

    def _models(self, incoming: Incoming, model_id: str) -> Reply:
        """GET /v1/models (id cursors, newest first) and GET /v1/models/{id}."""
        with self._lock:
            listed = list(self.models)
        if model_id:
            for entry in listed:
                if entry["id"] == model_id:
                    return json_reply(200, entry)
            raise ApiError(404, "not_found_error", f"model: {model_id}")
        limit = _parse_limit(incoming.query_one("limit"))
        ids = [entry["id"] for entry in listed]
        after, before = incoming.query_one("after_id"), incoming.query_one("before_id")
        if after is not None and before is not None:
            raise _invalid("Use only one of before_id and after_id")
        for cursor in (after, before):
            if cursor is not None and cursor not in ids:
                raise _invalid(f"Unknown cursor id {cursor}")
        if before is not None:
            window = listed[: ids.index(before)]
            chosen, has_more = window[-limit:], len(window) > limit
        else:
            window = listed[ids.index(after) + 1 :] if after is not None else listed
            chosen, has_more = window[:limit], len(window) > limit
        return json_reply(
            200,
            {
                "data": chosen,
                "has_more": has_more,
                "first_id": chosen[0]["id"] if chosen else None,
                "last_id": chosen[-1]["id"] if chosen else None,
            },
        )

    def _servable(self, model: str) -> dict[str, Any]:
        """The model's catalogue entry; 404 for an unknown or retired model."""
        with self._lock:
            entry = next((m for m in self.models if m["id"] == model), None)
        if entry is None or entry["lifecycle"] == "retired":
            raise ApiError(404, "not_found_error", f"model: {model}")
        return entry

    # -- Files API ---------------------------------------------------------

    def expire(self, file_id: str) -> None:
        """Let a file's expires_at pass now (tests): metadata stays, bytes go."""
        with self._lock:
            self.files[file_id].expires_at = rfc3339(datetime.now(UTC))

    def _get_file(self, file_id: str) -> StoredFile:
        """Return a stored file or answer 404."""
        with self._lock:
            stored = self.files.get(file_id)
        if stored is None:
            raise ApiError(404, "not_found_error", f"File not found: {file_id}")
        return stored

    def _upload(self, incoming: Incoming) -> Reply:
        """Store a multipart upload after the real API's checks."""
        content_type = incoming.headers.get("content-type", "")
        if not content_type.lower().startswith("multipart/form-data"):
            raise _invalid("Content-Type must be multipart/form-data")
        try:
            fields, parts = parse_multipart(content_type, incoming.raw)
        except ValueError as exc:
            raise _invalid(f"Invalid multipart body: {exc}") from exc
        uploads = [p for p in parts if p.name == "file"]
        if not uploads:
            raise _invalid("file: Field required")
        if len(uploads) > 1:
            raise _invalid("file: exactly one file must be uploaded")
        part = uploads[0]
        check_filename(part.filename)
        expires_at = self._expiry(fields.get("expires_in_seconds"))
        size = len(part.data)
        if size > self.max_file_bytes:
            raise ApiError(
                413,
                "request_too_large",
                f"File size {size} bytes exceeds the maximum of "
                f"{self.max_file_bytes} bytes.",
            )
        with self._lock:
            used = sum(len(f.data) for f in self.files.values())
            if used + size > self.storage_limit_bytes:
                legacy = self.storage_limit_status == 403
                raise ApiError(
                    self.storage_limit_status,
                    "permission_error" if legacy else "invalid_request_error",
                    "Storage limit exceeded: your organization has reached its "
                    f"{self.storage_limit_bytes} byte file storage limit. Delete "
                    "files to free up space.",
                    error_code="storage_quota_exceeded",
                )
            stored = StoredFile(
                id=random_id("file_011C", 20),
                filename=part.filename or "",
                mime_type=(part.content_type or "application/octet-stream"),
                data=part.data,
                created_at=rfc3339(datetime.now(UTC)),
                seq=self._next_seq,
                expires_at=expires_at,
            )
            self._next_seq += 1
            self.files[stored.id] = stored
        return json_reply(200, stored.metadata())

    @staticmethod
    def _expiry(raw: str | None) -> str | None:
        """Validate expires_in_seconds and return the expiry time."""
        if raw is None:
            return None
        try:
            seconds = int(raw)
        except ValueError:
            raise _invalid(
                "expires_in_seconds: Input should be a valid integer"
            ) from None
        if not 3600 <= seconds <= 7_776_000:
            raise _invalid("expires_in_seconds: must be between 3600 and 7776000")
        return rfc3339(datetime.now(UTC) + timedelta(seconds=seconds))

    def _list_files(self, incoming: Incoming) -> Reply:
        """List files newest first, a page at a time (opaque `page` cursors).

        The GA SDK pages with `limit` and `page` only; the id filter and the
        older before_id/after_id cursors are refused as unknown here, since
        Cairn never sends them.
        """
        unknown = sorted(set(incoming.query) - {"limit", "page"})
        if unknown:
            raise _invalid(f"{unknown[0]}: this fake does not serve that parameter")
        limit = _parse_limit(incoming.query_one("limit"))
        token = incoming.query_one("page")
        after = _decode_cursor(token) if token is not None else None
        with self._lock:
            ordered = sorted(self.files.values(), key=lambda f: -f.seq)
        older = [f for f in ordered if after is None or f.seq < after]
        chosen, has_more = older[:limit], len(older) > limit
        return json_reply(
            200,
            {
                "data": [f.metadata() for f in chosen],
                "has_more": has_more,
                "next_page": _encode_cursor(chosen[-1].seq) if has_more else None,
            },
        )

    # -- Messages ----------------------------------------------------------

    def _messages(self, incoming: Incoming) -> Reply:
        """Answer POST /v1/messages."""
        if len(incoming.raw) > self.max_request_bytes:
            raise ApiError(
                413,
                "request_too_large",
                f"Request exceeds the maximum allowed number of bytes "
                f"({self.max_request_bytes}).",
            )
        content_type = incoming.headers.get("content-type", "")
        if "application/json" not in content_type.lower():
            raise _invalid("Content-Type must be application/json")
        try:
            body = json.loads(incoming.raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _invalid(
                f"There was an issue with your request body: {exc}"
            ) from None
        if not isinstance(body, dict):
            raise _invalid("Request body must be a JSON object")
        prompt = self._parse_prompt(body)
        if prompt.total_tokens > self.context_window_tokens:
            raise _invalid(
                f"prompt is too long: {prompt.total_tokens} tokens > "
                f"{self.context_window_tokens} maximum"
            )
        usage = self._cache_usage(prompt)
        fetch_blocks = self._web_fetch(prompt, usage)
        code_blocks = self._code_execution(prompt)
        content, stop_reason, output_tokens = self._answer(prompt)
        content = fetch_blocks + code_blocks + content
        usage["output_tokens"] = output_tokens
        message = {
            "id": random_id("msg_01", 22),
            "type": "message",
            "role": "assistant",
            "model": prompt.model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }
        if code_blocks:
            # The container the tool ran in, as a response that used one names it.
            message["container"] = {
                "id": random_id("container_011C", 20),
                "expires_at": rfc3339(datetime.now(UTC) + timedelta(minutes=30)),
            }
        if prompt.stream:
            return Reply(
                200, content_type="text/event-stream", stream=_stream_events(message)
            )
        return json_reply(200, message)

    def _broken_stream(
        self, incoming: Incoming, error_type: str, message: str
    ) -> Reply:
        """Start a stream, then fail it with an error event, like an overload."""
        body = json.loads(incoming.raw)
        start = {
            "type": "message_start",
            "message": {
                "id": random_id("msg_01", 22),
                "type": "message",
                "role": "assistant",
                "model": body.get("model"),
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 1, "output_tokens": 1},
            },
        }
        error = {
            "type": "error",
            "error": {"type": error_type, "message": message},
            "request_id": incoming.request_id,
        }
        events: list[tuple[str, dict[str, Any]]] = [
            ("message_start", start),
            ("ping", {"type": "ping"}),
            ("error", error),
        ]
        return Reply(200, content_type="text/event-stream", stream=iter_sse(events))

    def _parse_prompt(self, body: dict[str, Any]) -> Prompt:
        """Validate a Messages request body into a Prompt."""
        allowed = _CREATE_FIELDS
        extra = sorted(set(body) - allowed)
        if extra:
            raise _invalid(f"{extra[0]}: Extra inputs are not permitted")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _invalid("model: Field required")
        self._servable(model)
        max_tokens = _require_int(body, "max_tokens")
        if max_tokens < 1:
            raise _invalid("max_tokens: Input should be greater than or equal to 1")
        if max_tokens > self.max_output_tokens:
            raise _invalid(
                f"max_tokens: {max_tokens} > {self.max_output_tokens}, which is "
                f"the maximum allowed number of output tokens for {model}"
            )
        stream = body.get("stream", False)
        if stream is not None and not isinstance(stream, bool):
            raise _invalid("stream: Input should be a valid boolean")
        prompt = Prompt(
            model=model, max_tokens=max_tokens, stream=bool(stream), question=""
        )
        self._parse_system(body.get("system"), prompt)
        self._parse_messages(body.get("messages"), prompt)
        prompt.web_fetch = web_fetch.check_tools(body.get("tools"), _invalid)
        prompt.code_execution = code_execution.check_tools(body.get("tools"), _invalid)
        code_execution.require_tool(
            prompt.container_files, prompt.code_execution, _invalid
        )
        if len(prompt.breakpoints) > MAX_CACHE_BREAKPOINTS:
            raise _invalid(
                f"A maximum of {MAX_CACHE_BREAKPOINTS} blocks with cache_control may "
                f"be provided. Found {len(prompt.breakpoints)}."
            )
        flags = {doc.citations for doc in prompt.documents}
        if len(flags) > 1:
            raise _invalid(
                "Citations must be enabled on all documents or on none of them."
            )
        if len({result.citations for result in prompt.search_results}) > 1:
            raise _invalid(
                "Citations must be enabled on all search results or on none of them."
            )
        return prompt

    def _parse_system(self, system: Any, prompt: Prompt) -> None:
        """Validate the system prompt and add it to the prompt parts."""
        if system is None:
            return
        if isinstance(system, str):
            if system:
                prompt.parts.append(
                    (json.dumps(["system", system]), _text.claude_tokens(system))
                )
            return
        if not isinstance(system, list):
            raise _invalid("system: Input should be a valid string or list of blocks")
        for i, block in enumerate(system):
            where = f"system.{i}"
            if not isinstance(block, dict) or block.get("type") != "text":
                raise _invalid(f"{where}.type: system blocks must be text blocks")
            self._text_block(block, where)
            self._add_part(prompt, ["system", block], block, where)

    def _add_part(
        self, prompt: Prompt, canonical: Any, block: dict[str, Any], where: str
    ) -> None:
        """Add one prompt block for token counting and cache breakpoints."""
        text = json.dumps(_drop_cache_control(canonical), sort_keys=True)
        tokens = _block_tokens(block)
        prompt.parts.append((text, tokens))
        if block.get("cache_control") is not None:
            ttl = _check_cache_control(block["cache_control"], f"{where}.cache_control")
            prompt.breakpoints.append((len(prompt.parts) - 1, ttl))

    def _parse_messages(self, messages: Any, prompt: Prompt) -> None:
        """Validate the turns and collect the last user turn's text."""
        if not isinstance(messages, list):
            raise _invalid("messages: Field required")
        if not messages:
            raise _invalid("messages: at least one message is required")
        last_user_texts: list[str] = []
        previous_role = None
        for m, message in enumerate(messages):
            where = f"messages.{m}"
            if not isinstance(message, dict):
                raise _invalid(f"{where}: Input should be a valid dictionary")
            extra = sorted(set(message) - {"role", "content"})
            if extra:
                raise _invalid(f"{where}.{extra[0]}: Extra inputs are not permitted")
            role = message.get("role")
            if role not in ("user", "assistant"):
                raise _invalid(f"{where}.role: Input should be 'user' or 'assistant'")
            if m == 0 and role != "user":
                raise _invalid('messages: first message must use the "user" role')
            if role == "user" and previous_role != "user":
                # Consecutive user turns are merged into one turn, as the API does.
                last_user_texts = []
            previous_role = role
            content = message.get("content")
            if isinstance(content, str):
                if not content.strip():
                    raise _invalid(f"{where}.content: text must be non-empty")
                block = {"type": "text", "text": content}
                self._add_part(prompt, [role, block], block, where)
                if role == "user":
                    last_user_texts.append(content)
                continue
            if not isinstance(content, list):
                raise _invalid(f"{where}.content: Field required")
            if not content:
                raise _invalid(
                    f"{where}.content: at least one content block is required"
                )
            for b, block in enumerate(content):
                block_where = f"{where}.content.{b}"
                self._parse_block(block, block_where, role, prompt)
                if role == "user" and block.get("type") == "text":
                    last_user_texts.append(block["text"])
        prompt.question = "\n".join(last_user_texts)

    def _parse_block(
        self,
        block: Any,
        where: str,
        role: str,
        prompt: Prompt,
    ) -> None:
        """Validate one content block of a message."""
        if not isinstance(block, dict):
            raise _invalid(f"{where}: Input should be a valid dictionary")
        kind = block.get("type")
        if kind == "text":
            self._text_block(block, where)
        elif kind == "document":
            if role != "user":
                raise _invalid(
                    f"{where}: document blocks are only allowed in user turns"
                )
            self._document_block(block, where, prompt)
        elif kind == "image":
            self._image_block(block, where)
        elif kind == "container_upload":
            file_id = code_execution.check_container_upload(
                block, where, role, _invalid
            )
            prompt.container_files.append(_readable(self._get_file(file_id)))
        elif kind == "search_result":
            if role != "user":
                raise _invalid(
                    f"{where}: search_result blocks are only allowed in user turns"
                )
            prompt.search_results.append(
                _search_result(block, where, len(prompt.search_results))
            )
        else:
            # Tool, thinking and other blocks are valid for the API, but Cairn
            # sends none: refused until the fake models them.
            raise _invalid(
                f"{where}.type: Input tag {kind!r} found using 'type' does not match "
                "any of the expected tags"
            )
        self._add_part(prompt, [role, block], block, where)
        if kind in ("document", "search_result"):
            # The part's tokens are the resolved block's, not its JSON's.
            text, _ = prompt.parts[-1]
            resolved = prompt.documents if kind == "document" else prompt.search_results
            prompt.parts[-1] = (text, resolved[-1].tokens)

    @staticmethod
    def _text_block(block: dict[str, Any], where: str) -> None:
        """Validate a text block."""
        extra = sorted(set(block) - {"type", "text", "cache_control", "citations"})
        if extra:
            raise _invalid(f"{where}.{extra[0]}: Extra inputs are not permitted")
        text = block.get("text")
        if not isinstance(text, str):
            raise _invalid(f"{where}.text: Field required")
        if not text.strip():
            raise _invalid(
                f"{where}: text content blocks must contain non-whitespace text"
            )

    def _image_block(self, block: dict[str, Any], where: str) -> None:
        """Validate an image block and its source."""
        source = block.get("source")
        if not isinstance(source, dict):
            raise _invalid(f"{where}.source: Field required")
        kind = source.get("type")
        if kind == "file":
            stored = self._file_source(source, where)
            if stored.mime_type not in _IMAGE_TYPES:
                raise _invalid(
                    f"{where}.source: file {stored.id} has mime type "
                    f"{stored.mime_type}, which is not valid for an image block"
                )
        elif kind == "base64":
            if source.get("media_type") not in _IMAGE_TYPES:
                raise _invalid(f"{where}.source.media_type: unsupported image type")
        elif kind != "url":
            raise _invalid(f"{where}.source.type: unsupported image source")

    def _file_source(self, source: dict[str, Any], where: str) -> StoredFile:
        """Resolve a file source: 404 for a file that is gone or has expired."""
        file_id = source.get("file_id")
        if not isinstance(file_id, str) or not file_id:
            raise _invalid(f"{where}.source.file_id: Field required")
        return _readable(self._get_file(file_id))

    def _document_block(
        self, block: dict[str, Any], where: str, prompt: Prompt
    ) -> None:
        """Validate a document block and resolve its citable units."""
        allowed = {"type", "source", "title", "context", "citations", "cache_control"}
        extra = sorted(set(block) - allowed)
        if extra:
            raise _invalid(f"{where}.{extra[0]}: Extra inputs are not permitted")
        title = block.get("title")
        context = block.get("context")
        for name, value in (("title", title), ("context", context)):
            if value is not None and not isinstance(value, str):
                raise _invalid(f"{where}.{name}: Input should be a valid string")
        citations = block.get("citations")
        enabled = False
        if citations is not None:
            if not isinstance(citations, dict) or not isinstance(
                citations.get("enabled", False), bool
            ):
                raise _invalid(
                    f"{where}.citations: Input should be {{'enabled': bool}}"
                )
            enabled = bool(citations.get("enabled", False))
        source = block.get("source")
        if not isinstance(source, dict):
            raise _invalid(f"{where}.source: Field required")
        kind, units, file_id = self._document_units(source, f"{where}.source")
        # A PDF without a text layer (a scan) is still a valid document: Claude
        # sees the page images; it just has no sentences for this fake to cite.
        if not units and kind != "page_location":
            raise _invalid(f"{where}.source: text documents must be non-empty")
        tokens = max(1, sum(_text.claude_tokens(u.cited_text) for u in units))
        tokens += sum(_text.claude_tokens(v) for v in (title, context) if v)
        prompt.documents.append(
            Document(
                index=len(prompt.documents),
                kind=kind,
                title=title,
                file_id=file_id,
                citations=enabled,
                units=units,
                tokens=tokens,
            )
        )

    def _document_units(
        self, source: dict[str, Any], where: str
    ) -> tuple[
        Literal["char_location", "page_location", "content_block_location"],
        list[Unit],
        str | None,
    ]:
        """Resolve a document source to its kind, units and file id."""
        kind = source.get("type")
        if kind == "text":
            _only_keys(source, {"type", "media_type", "data"}, where)
            if source.get("media_type") != "text/plain":
                raise _invalid(f"{where}.media_type: Input should be 'text/plain'")
            data = source.get("data")
            if not isinstance(data, str):
                raise _invalid(f"{where}.data: Field required")
            return "char_location", _text_units(data, "char_location"), None
        if kind == "base64":
            # Valid for the API (an inline PDF), but Cairn uploads its PDFs.
            raise _invalid(f"{where}: base64 PDFs are not served by this fake")
        if kind == "content":
            _only_keys(source, {"type", "content"}, where)
            return "content_block_location", _content_units(source, where), None
        if kind == "file":
            _only_keys(source, {"type", "file_id"}, where)
            stored = self._file_source(source, where)
            if stored.mime_type not in _DOCUMENT_FILE_TYPES:
                raise _invalid(
                    f"{where}: file {stored.id} has mime type {stored.mime_type}, "
                    "which is not a valid file type for a document block "
                    "(use application/pdf or text/plain)"
                )
            if stored.mime_type == "application/pdf":
                return "page_location", self._pdf_units(stored.data, where), stored.id
            try:
                text = stored.data.decode("utf-8")
            except UnicodeDecodeError:
                raise _invalid(
                    f"{where}: file {stored.id} is not valid UTF-8 text"
                ) from None
            return "char_location", _text_units(text, "char_location"), stored.id
        if kind == "url":
            raise _invalid(f"{where}: URL sources cannot be fetched by the local fake")
        raise _invalid(f"{where}.type: unknown document source type {kind!r}")

    def _pdf_units(self, data: bytes, where: str) -> list[Unit]:
        """Read a PDF's pages (cached by content) into sentence units."""
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            pages = self._pdf_pages.get(digest)
        if pages is None:
            try:
                pages = page_texts(data)
            except PdfError:
                raise _invalid(f"{where}: The PDF specified was not valid.") from None
            with self._lock:
                self._pdf_pages[digest] = pages
        if len(pages) > self.max_pdf_pages:
            raise _invalid(
                f"{where}: A maximum of {self.max_pdf_pages} PDF pages may be provided."
            )
        units: list[Unit] = []
        for number, text in enumerate(pages, start=1):
            units += _text_units(text, "page_location", page=number)
        return units

    # -- caching and answers ---------------------------------------------------

    def _cache_usage(self, prompt: Prompt) -> dict[str, Any]:
        """Work out cache reads and writes the way the prompt cache reports them."""
        keys: list[str] = []
        running = hashlib.sha256(prompt.model.encode())
        cumulative: list[int] = []
        total = 0
        for text, tokens in prompt.parts:
            running.update(b"\x00" + text.encode())
            keys.append(running.hexdigest())
            total += tokens
            cumulative.append(total)
        now = time.monotonic()
        read_upto = -1
        created_upto = -1
        ttl_created = "5m"
        with self._lock:
            self._cache = {k: v for k, v in self._cache.items() if v > now}
            for position, _ttl in prompt.breakpoints:
                lowest = max(0, position - CACHE_LOOKBACK_BLOCKS)
                for candidate in range(position, lowest - 1, -1):
                    if keys[candidate] in self._cache:
                        read_upto = max(read_upto, candidate)
                        break
            for position, ttl in prompt.breakpoints:
                if position <= read_upto:
                    continue
                if cumulative[position] < self.min_cacheable_tokens:
                    continue
                if position > created_upto:
                    created_upto, ttl_created = position, ttl
            # cache_ttl_s is the 5-minute TTL; "1h" entries live twelve times longer.
            # A hit refreshes the entry's lifetime, as the real cache does.
            lifetime = self.cache_ttl_s
            if read_upto >= 0:
                key = keys[read_upto]
                self._cache[key] = max(self._cache[key], now + lifetime)
            for position, ttl in prompt.breakpoints:
                big_enough = cumulative[position] >= self.min_cacheable_tokens
                if read_upto < position <= created_upto and big_enough:
                    factor = 12.0 if ttl == "1h" else 1.0
                    self._cache[keys[position]] = now + lifetime * factor
        read = cumulative[read_upto] if read_upto >= 0 else 0
        created = cumulative[created_upto] - read if created_upto >= 0 else 0
        return {
            "input_tokens": total - read - created,
            "cache_creation_input_tokens": created,
            "cache_read_input_tokens": read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": created if ttl_created == "5m" else 0,
                "ephemeral_1h_input_tokens": created if ttl_created == "1h" else 0,
            },
            "service_tier": "standard",
        }

    def _web_fetch(self, prompt: Prompt, usage: dict[str, Any]) -> list[dict[str, Any]]:
        """Run the web fetch tool on the question's URLs; fetched pages become
        citable documents numbered after the request's own."""
        if prompt.web_fetch is None:
            return []
        with self._lock:
            pages, errors = dict(self.web_pages), dict(self.web_errors)
        blocks, fetched = web_fetch.run(
            prompt.web_fetch, prompt.question, pages, errors
        )
        citations = bool((prompt.web_fetch.get("citations") or {}).get("enabled"))
        for title, text in fetched:
            units = _text_units(text, "char_location")
            prompt.documents.append(
                Document(
                    index=len(prompt.documents),
                    kind="char_location",
                    title=title,
                    file_id=None,
                    citations=citations,
                    units=units,
                    tokens=web_fetch.tokens(text),
                )
            )
            usage["input_tokens"] += web_fetch.tokens(text)
        if blocks:
            requests = sum(1 for b in blocks if b["type"] == "server_tool_use")
            usage["server_tool_use"] = {"web_fetch_requests": requests}
        return blocks

    def _code_execution(self, prompt: Prompt) -> list[dict[str, Any]]:
        """Run the code execution tool over the container's files, if any."""
        if prompt.code_execution is None or not prompt.container_files:
            return []
        uploads = [(f.filename, f.mime_type, f.data) for f in prompt.container_files]
        blocks, said = code_execution.run(
            prompt.code_execution, uploads, self.add_tool_file
        )
        return [*blocks, {"type": "text", "text": said}]

    def add_tool_file(self, filename: str, mime_type: str, data: bytes) -> str:
        """Store a file a tool created: listed, and the only kind downloadable."""
        with self._lock:
            stored = StoredFile(
                id=random_id("file_011C", 20),
                filename=filename,
                mime_type=mime_type,
                data=data,
                created_at=rfc3339(datetime.now(UTC)),
                seq=self._next_seq,
                downloadable=True,
            )
            self._next_seq += 1
            self.files[stored.id] = stored
        return stored.id

    def _answer(self, prompt: Prompt) -> tuple[list[dict[str, Any]], str, int]:
        """Cite the sentences that best match the question; return content and usage."""
        question = _text.content_terms(prompt.question)
        scored: list[tuple[int, int, int, Document, Unit]] = []
        for order, doc in enumerate(prompt.documents + prompt.search_results):
            for position, unit in enumerate(doc.units):
                score = len(question & unit.terms)
                if score > 0:
                    scored.append((-score, order, position, doc, unit))
        scored.sort(key=lambda item: item[:3])
        chosen = _merge_adjacent_blocks([(doc, unit) for *_, doc, unit in scored[:3]])
        blocks: list[dict[str, Any]]
        if not chosen:
            blocks = [{"type": "text", "text": NOT_FOUND_ANSWER}]
        elif any(doc.citations for doc, _ in chosen):
            blocks = [{"type": "text", "text": ANSWER_INTRO + " "}]
            for n, (doc, unit) in enumerate(chosen):
                spacer = "" if n == len(chosen) - 1 else " "
                if not doc.citations:
                    blocks.append({"type": "text", "text": unit.answer_text + spacer})
                    continue
                blocks.append(
                    {
                        "type": "text",
                        "text": unit.answer_text + spacer,
                        "citations": [_citation(doc, unit)],
                    }
                )
        else:
            sentences = " ".join(unit.answer_text for _, unit in chosen)
            blocks = [{"type": "text", "text": f"{ANSWER_INTRO} {sentences}"}]
        return _limit_output(blocks, prompt.max_tokens)


def _citation(doc: Document, unit: Unit) -> dict[str, Any]:
    """The citation object for a unit, in the shape of its document's kind."""
    if doc.kind == "search_result_location":
        # Search results are counted apart from documents and carry no
        # document_index; source and title name the result.
        return {"type": doc.kind, "cited_text": unit.cited_text, **unit.location}
    return {
        "type": doc.kind,
        "cited_text": unit.cited_text,
        "document_index": doc.index,
        "document_title": doc.title,
        **unit.location,
        "file_id": doc.file_id,
    }


def _merge_adjacent_blocks(
    chosen: list[tuple[Document, Unit]],
) -> list[tuple[Document, Unit]]:
    """Join chosen neighbouring blocks of one search result into one citation.

    The real API cites a range of blocks when a claim spans them; cited_text is
    then the blocks' texts concatenated.
    """
    merged: list[tuple[Document, Unit]] = []
    for doc, unit in chosen:
        partner = next(
            (
                i
                for i, (other, kept) in enumerate(merged)
                if other is doc
                and doc.kind == "search_result_location"
                and kept.location["end_block_index"]
                == unit.location["start_block_index"]
            ),
            None,
        )
        if partner is None:
            merged.append((doc, unit))
            continue
        kept = merged[partner][1]
        merged[partner] = (
            doc,
            Unit(
                cited_text=kept.cited_text + unit.cited_text,
                answer_text=f"{kept.answer_text} {unit.answer_text}",
                terms=kept.terms | unit.terms,
                location={
                    **kept.location,
                    "end_block_index": unit.location["end_block_index"],
                },
            ),
        )
    return merged


def _limit_output(
    blocks: list[dict[str, Any]], max_tokens: int
) -> tuple[list[dict[str, Any]], str, int]:
    """Cut the answer at max_tokens, as the model stops mid-text."""
    kept: list[dict[str, Any]] = []
    used = 0
    for block in blocks:
        # cited_text is free; only the generated text counts as output.
        cost = _text.claude_tokens(block["text"])
        if used + cost <= max_tokens:
            kept.append(block)
            used += cost
            continue
        room = (max_tokens - used) * 4
        if room > 0:
            kept.append({**block, "text": block["text"][:room]})
            used = max_tokens
        return kept, "max_tokens", used
    return kept, "end_turn", used


def _tool_block_events(
    index: int, block: dict[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    """A server tool block as the stream sends it: input as JSON deltas."""
    start = {**block, "input": {}} if block["type"] == "server_tool_use" else block
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": start},
        )
    ]
    if block["type"] == "server_tool_use":
        delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        events.append(
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            )
        )
    events.append(
        ("content_block_stop", {"type": "content_block_stop", "index": index})
    )
    return events


def _stream_events(message: dict[str, Any]) -> Iterator[bytes]:
    """Replay a finished message as the real event sequence."""
    usage = message["usage"]
    start_usage = {**usage, "output_tokens": 1}
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    **message,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": start_usage,
                },
            },
        ),
        ("ping", {"type": "ping"}),
    ]
    for index, block in enumerate(message["content"]):
        if block["type"] != "text":
            events += _tool_block_events(index, block)
            continue
        citations = block.get("citations")
        start_block: dict[str, Any] = {"type": "text", "text": ""}
        if citations is not None:
            start_block["citations"] = []
        events.append(
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": start_block,
                },
            )
        )
        deltas = _split_deltas(block["text"])
        for n, piece in enumerate(deltas):
            events.append(
                (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "text_delta", "text": piece},
                    },
                )
            )
            # Citations arrive after the first text delta of their block, so
            # consumers see text both before and after a citation.
            if n == 0:
                for citation in citations or []:
                    events.append(
                        (
                            "content_block_delta",
                            {
                                "type": "content_block_delta",
                                "index": index,
                                "delta": {
                                    "type": "citations_delta",
                                    "citation": citation,
                                },
                            },
                        )
                    )
        events.append(
            ("content_block_stop", {"type": "content_block_stop", "index": index})
        )
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {
                    "input_tokens": usage["input_tokens"],
                    "cache_creation_input_tokens": usage["cache_creation_input_tokens"],
                    "cache_read_input_tokens": usage["cache_read_input_tokens"],
                    "output_tokens": usage["output_tokens"],
                },
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return iter_sse(events)


# -- validation helpers --------------------------------------------------------


def check_filename(filename: str | None) -> None:
    """Reject filenames the Files API rejects (length, forbidden characters)."""
    if not filename or len(filename) > 255:
        raise _invalid("Invalid filename: must be between 1 and 255 characters long")
    bad = sorted({c for c in filename if c in FORBIDDEN_FILENAME_CHARS})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        raise _invalid(f"Invalid filename: contains forbidden characters ({shown})")


def _require_int(body: dict[str, Any], name: str) -> int:
    """Return a required integer field (booleans are not integers)."""
    value = body.get(name)
    if value is None:
        raise _invalid(f"{name}: Field required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(f"{name}: Input should be a valid integer")
    return value


def _check_cache_control(value: Any, where: str) -> str:
    """Validate a cache_control object and return its TTL."""
    if not isinstance(value, dict) or value.get("type") != "ephemeral":
        raise _invalid(f"{where}.type: Input should be 'ephemeral'")
    extra = sorted(set(value) - {"type", "ttl"})
    if extra:
        raise _invalid(f"{where}.{extra[0]}: Extra inputs are not permitted")
    ttl = value.get("ttl", "5m")
    if ttl not in ("5m", "1h"):
        raise _invalid(f"{where}.ttl: Input should be '5m' or '1h'")
    return str(ttl)


def _only_keys(value: dict[str, Any], allowed: set[str], where: str) -> None:
    """Reject keys outside the allowed set, as the API's strict schema does."""
    extra = sorted(set(value) - allowed)
    if extra:
        raise _invalid(f"{where}.{extra[0]}: Extra inputs are not permitted")


def _content_units(source: dict[str, Any], where: str) -> list[Unit]:
    """Turn a custom-content source into one citable unit per text block."""
    content = source.get("content")
    if isinstance(content, str):
        content = [{"type": "text", "text": content}]
    if not isinstance(content, list) or not content:
        raise _invalid(f"{where}.content: at least one content block is required")
    units = []
    for i, block in enumerate(content):
        if not isinstance(block, dict) or block.get("type") not in ("text", "image"):
            raise _invalid(
                f"{where}.content.{i}: only text and image blocks are allowed"
            )
        if block["type"] == "image":
            continue
        text = block.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _invalid(f"{where}.content.{i}.text: text must be non-empty")
        units.append(
            Unit(
                cited_text=text,
                answer_text=" ".join(text.split()),
                terms=frozenset(_text.content_terms(text)),
                location={"start_block_index": i, "end_block_index": i + 1},
            )
        )
    return units


def _search_result(block: dict[str, Any], where: str, index: int) -> Document:
    """Validate a search_result block; each text block is one citable unit."""
    _only_keys(
        block,
        {"type", "source", "title", "content", "citations", "cache_control"},
        where,
    )
    for name in ("source", "title"):
        value = block.get(name)
        if value is None:
            raise _invalid(f"{where}.{name}: Field required")
        if not isinstance(value, str):
            raise _invalid(f"{where}.{name}: Input should be a valid string")
    source, title = str(block["source"]), str(block["title"])
    citations = block.get("citations")
    if citations is not None and (
        not isinstance(citations, dict)
        or set(citations) - {"enabled"}
        or not isinstance(citations.get("enabled", False), bool)
    ):
        raise _invalid(f"{where}.citations: Input should be {{'enabled': bool}}")
    content = block.get("content")
    if not isinstance(content, list) or not content:
        raise _invalid(f"{where}.content: at least one content block is required")
    units = []
    for i, part in enumerate(content):
        inner = f"{where}.content.{i}"
        if not isinstance(part, dict) or part.get("type") != "text":
            raise _invalid(f"{inner}.type: search result content must be text blocks")
        _only_keys(part, {"type", "text", "cache_control", "citations"}, inner)
        text = part.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _invalid(f"{inner}.text: text must be non-empty")
        units.append(
            Unit(
                cited_text=text,
                answer_text=" ".join(text.split()),
                terms=frozenset(_text.content_terms(text)),
                location={
                    "search_result_index": index,
                    "start_block_index": i,
                    "end_block_index": i + 1,
                    "source": source,
                    "title": title,
                },
            )
        )
    # Counted like a document's: its texts, its title and (here) its source.
    tokens = sum(_text.claude_tokens(u.cited_text) for u in units)
    tokens += _text.claude_tokens(source) + _text.claude_tokens(title)
    return Document(
        index=index,
        kind="search_result_location",
        title=title,
        file_id=None,
        citations=bool((citations or {}).get("enabled", False)),
        units=units,
        tokens=tokens,
    )


def _block_tokens(block: dict[str, Any]) -> int:
    """Estimate the input tokens of a non-document block."""
    if block.get("type") == "text":
        return _text.claude_tokens(str(block.get("text", "")))
    if block.get("type") == "image":
        # Roughly what a mid-sized image costs.
        return 1_000
    return _text.claude_tokens(json.dumps(block))


def _parse_limit(raw: str | None) -> int:
    """Parse the list limit: 1 to 1000, default 20."""
    if raw is None:
        return 20
    try:
        limit = int(raw)
    except ValueError:
        raise _invalid("limit: Input should be a valid integer") from None
    if not 1 <= limit <= 1000:
        raise _invalid("limit: Input should be between 1 and 1000")
    return limit


def _encode_cursor(seq: int) -> str:
    """Make an opaque page_ cursor: the files list continues below seq."""
    return "page_" + base64.urlsafe_b64encode(str(seq).encode()).decode().rstrip("=")


def _decode_cursor(token: str) -> int:
    """Read back a page_ cursor, or answer 400 for a bad one."""
    try:
        if not token.startswith("page_"):
            raise ValueError(token)
        raw = token[5:]
        return int(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _invalid("page: invalid page cursor") from None


# -- multipart -------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One part of a multipart/form-data body."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes


def _unescape_filename(value: str) -> str:
    """Undo the HTML5 escaping httpx applies to multipart filenames."""
    return _HTML5_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)


def parse_multipart(
    content_type: str, body: bytes
) -> tuple[dict[str, str], list[Part]]:
    """Parse multipart/form-data into plain fields and file parts."""
    header = Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise ValueError("missing multipart boundary")
    delimiter = b"--" + boundary.encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise ValueError("multipart body is not terminated")
    fields: dict[str, str] = {}
    parts: list[Part] = []
    for chunk in chunks[1:-1]:
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("multipart part has no header separator")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        headers = HeaderParser().parsestr(head.decode("utf-8", "surrogateescape"))
        name = headers.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise ValueError("multipart part has no name")
        filename = headers.get_filename()
        if filename is None and "filename" not in (
            headers.get("content-disposition") or ""
        ):
            fields[name] = data.decode("utf-8", "replace")
            continue
        part_type = headers.get_content_type() if headers.get("content-type") else None
        parts.append(
            Part(
                name=name,
                filename=_unescape_filename(filename or ""),
                content_type=part_type,
                data=data,
            )
        )
    return fields, parts


def main(argv: list[str] | None = None) -> None:
    """Serve the fake on the given port until interrupted."""
    parser = argparse.ArgumentParser(description="Serve the fake Anthropic API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    fake = FakeAnthropic(host=args.host, port=args.port)
    fake.serve_until_interrupted()


if __name__ == "__main__":
    main()
