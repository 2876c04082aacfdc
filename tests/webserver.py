"""A loopback HTTP server with canned routes, for fetching pages in tests."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Route:
    """What one path answers."""

    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    # Seconds between body pieces, to play a slow server.
    drip: float = 0.0


class LocalWeb:
    """Routes by path; records the Host header of every request."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.hosts: list[str] = []
        web = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                web.hosts.append(self.headers.get("Host", ""))
                route = web.routes.get(self.path)
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                if not route.drip:
                    self.wfile.write(route.body)
                    return
                try:
                    for index in range(len(route.body)):
                        self.wfile.write(route.body[index : index + 1])
                        self.wfile.flush()
                        time.sleep(route.drip)
                except ConnectionError:
                    return  # The client gave up, as it should.

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        scheme = "https" if tls else "http"
        self.base_url = f"{scheme}://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def page(self, path: str, body: bytes | str, content_type: str = "") -> str:
        """Serve body at path; return its URL."""
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = Route(data, content_type or "text/html; charset=utf-8")
        return self.base_url + path

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        """Redirect path to location; return its URL."""
        self.routes[path] = Route(status=status, headers={"Location": location})
        return self.base_url + path


@pytest.fixture
def local_web() -> Iterator[LocalWeb]:
    """A loopback web server, stopped after the test."""
    web = LocalWeb()
    web.thread.start()
    try:
        yield web
    finally:
        web.server.shutdown()
        web.server.server_close()


@pytest.fixture
def loopback_allowed(settings: Any) -> Any:
    """Let the fetcher reach loopback: the one explicit test-only setting."""
    settings.WEB_ALLOW_PRIVATE_ADDRESSES = True
    return settings
