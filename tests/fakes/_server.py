"""Shared HTTP plumbing for the fake API servers: threading, recording, failures.

Every fake has ``start()`` (binds 127.0.0.1, port 0 unless given, serves on a daemon
thread), ``stop()``, ``base_url``, ``reset()`` (clears state and restores tunables),
``requests`` (a list of RecordedRequest: method, path, lower-cased headers, parsed
JSON body or multipart summary, query), ``errors`` (tracebacks of bugs inside the
fake; assert it stays empty), ``latency_s`` (sleep added to every request) and
``fail_next(status, error_type, message, *, times=1, headers=None, path_prefix=None,
error_code=None, during_stream=False)``: the next ``times`` requests whose path starts
with ``path_prefix`` (any path when None) get that error after authentication, with
the extra response ``headers`` (e.g. ``retry-after``). ``error_code`` adds
``error.details.error_code`` to Anthropic errors; ``during_stream`` (Anthropic only)
makes the next streaming request start normally and then send an ``error`` event.
"""

from __future__ import annotations

import json
import secrets
import sys
import threading
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def random_id(prefix: str, length: int = 24) -> str:
    """Return an id like the real APIs use: a prefix and random base62 characters."""
    return prefix + "".join(secrets.choice(_BASE62) for _ in range(length))


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake saw it, for assertions in tests."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    query: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Incoming:
    """A parsed incoming request handed to the fake's router."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    raw: bytes
    request_id: str

    def query_one(self, name: str) -> str | None:
        """Return the last value of a query parameter, or None."""
        values = self.query.get(name)
        return values[-1] if values else None


@dataclass
class Reply:
    """A response: a whole body, or a stream of chunks sent chunked-encoded."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterable[bytes] | None = None


def json_reply(
    status: int, payload: Any, headers: dict[str, str] | None = None
) -> Reply:
    """Build a JSON reply."""
    return Reply(status, json.dumps(payload).encode(), headers=dict(headers or {}))


@dataclass
class Failure:
    """A failure scheduled with fail_next."""

    status: int
    error_type: str
    message: str
    times: int
    headers: dict[str, str]
    path_prefix: str | None
    error_code: str | None
    during_stream: bool


class _Server(ThreadingHTTPServer):
    """Threaded HTTP server that knows its fake."""

    daemon_threads = True
    # The SDKs keep connections alive; a short queue of them is normal.
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], fake: FakeHTTPServer) -> None:
        """Bind the address and remember the fake."""
        super().__init__(address, _Handler)
        self.fake = fake

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients hanging up; record anything else as a fake bug."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        self.fake.errors.append(traceback.format_exc())
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Request handler that hands every request to the fake."""

    # HTTP/1.1 so clients can keep connections alive and streams use chunking.
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's
    # algorithm and delayed ACKs add about 40 ms to every keep-alive response.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet; the fake records requests instead of logging them."""

    def _read_body(self) -> bytes:
        """Read the request body (the SDKs send a Content-Length)."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        """Parse, dispatch and answer one request."""
        fake = self.server.fake
        request_id = fake.new_request_id()
        split = urlsplit(self.path)
        incoming = Incoming(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            raw=self._read_body(),
            request_id=request_id,
        )
        try:
            reply = fake.dispatch(incoming)
        # A bug in the fake must still produce an answer the client can read.
        except Exception:
            fake.errors.append(traceback.format_exc())
            traceback.print_exc(file=sys.stderr)
            reply = fake.internal_error(incoming)
        self._send(reply, {"request-id": request_id})

    def _send(self, reply: Reply, id_header: dict[str, str]) -> None:
        """Write a reply, chunk-encoding streams."""
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        for key, value in {**id_header, **reply.headers}.items():
            self.send_header(key, value)
        if reply.stream is None:
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        try:
            for chunk in reply.stream:
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            # The client stopped reading (e.g. closed the stream early).
            self.close_connection = True

    do_GET = do_POST = do_DELETE = _handle


class FakeHTTPServer(ABC):
    """Base class: a threaded local HTTP server with recording and fail_next."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Create the fake; call start() to bind and serve."""
        self.host = host
        self.port = port
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.requests: list[RecordedRequest] = []
        self.errors: list[str] = []
        self._failures: list[Failure] = []
        self.latency_s = 0.0
        self.reset()

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> Self:
        """Bind and serve in a daemon thread; returns self."""
        if self._server is not None:
            return self
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        """Start on entering a with block."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop on leaving a with block."""
        self.stop()

    @property
    def root_url(self) -> str:
        """Scheme, host and port of the running server, without a path."""
        if self._server is None:
            raise RuntimeError("server not started; call start() first")
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """URL to hand to the SDK client; subclasses add a path when it needs one."""
        return self.root_url

    def serve_until_interrupted(self) -> None:
        """Start, print the base URL, and serve until Ctrl-C."""
        self.start()
        print(self.base_url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    # -- state -------------------------------------------------------------

    def reset(self) -> None:
        """Clear recorded requests, scheduled failures and subclass state."""
        with self._lock:
            self.requests.clear()
            self.errors.clear()
            self._failures.clear()
            self.latency_s = 0.0
            self._reset_state()

    def _reset_state(self) -> None:  # noqa: B027 (an optional hook)
        """Subclasses clear their own state and restore tunables here."""

    def fail_next(
        self,
        status: int,
        error_type: str,
        message: str,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        path_prefix: str | None = None,
        error_code: str | None = None,
        during_stream: bool = False,
    ) -> None:
        """Make the next `times` matching requests fail with this error."""
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._failures.append(
                Failure(
                    status=status,
                    error_type=error_type,
                    message=message,
                    times=times,
                    headers=dict(headers or {}),
                    path_prefix=path_prefix,
                    error_code=error_code,
                    during_stream=during_stream,
                )
            )

    def _take_failure(self, path: str, *, streaming: bool) -> Failure | None:
        """Pop one use of the first scheduled failure that matches this request."""
        with self._lock:
            for failure in self._failures:
                if failure.path_prefix and not path.startswith(failure.path_prefix):
                    continue
                # A mid-stream failure only makes sense for a streaming request.
                if failure.during_stream and not streaming:
                    continue
                failure.times -= 1
                if failure.times == 0:
                    self._failures.remove(failure)
                return failure
        return None

    def pending_failures(self) -> int:
        """Return how many failing responses are still scheduled."""
        with self._lock:
            return sum(f.times for f in self._failures)

    # -- request handling --------------------------------------------------

    def dispatch(self, incoming: Incoming) -> Reply:
        """Record the request, apply latency, and route it."""
        with self._lock:
            self.requests.append(
                RecordedRequest(
                    method=incoming.method,
                    path=incoming.path,
                    headers=incoming.headers,
                    body=self.summarize_body(incoming),
                    query=incoming.query,
                )
            )
            latency = self.latency_s
        if latency > 0:
            time.sleep(latency)
        return self.route(incoming)

    def summarize_body(self, incoming: Incoming) -> Any:
        """Return the parsed JSON body, or the raw text when it is not JSON."""
        if not incoming.raw:
            return None
        try:
            return json.loads(incoming.raw)
        except (ValueError, UnicodeDecodeError):
            return incoming.raw.decode("utf-8", "replace")

    @abstractmethod
    def route(self, incoming: Incoming) -> Reply:
        """Answer one request; subclasses implement the API."""

    @abstractmethod
    def internal_error(self, incoming: Incoming) -> Reply:
        """Answer for an unexpected exception inside the fake."""

    def new_request_id(self) -> str:
        """Return a fresh id for the request-id response header."""
        return random_id("req_011C", 20)


def iter_sse(events: Iterable[tuple[str, dict[str, Any]]]) -> Iterator[bytes]:
    """Encode (event name, data) pairs as server-sent events."""
    for name, data in events:
        yield f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
