"""Streamable HTTP at /mcp: the SDK's ASGI app behind Cairn's bearer tokens.

Stateless and JSON: each POST is answered on its own, with no session kept in
the process's memory, so any gunicorn worker process on any web machine can
answer any request (a stateful session lives in the one process that opened it).
The tools need nothing from the client between calls.
"""

from __future__ import annotations

import hashlib

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections
from django.http.request import split_domain_port, validate_host
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import (
    BearerAuthBackend,
    RequireAuthMiddleware,
)
from mcp.server.auth.provider import AccessToken
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from documents.api_auth import user_for_token
from mcpserver.tools import build_server
from project import outage

MCP_PATH = "/mcp"


class DatabaseDown(Exception):
    """The token could not be checked: the database is unavailable."""


def is_mcp_path(path: str) -> bool:
    """Whether a request path belongs to the MCP endpoint."""
    return path == MCP_PATH or path.startswith(MCP_PATH + "/")


class ApiTokenVerifier:
    """The SDK's TokenVerifier over Cairn's API tokens (documents/api_auth.py)."""

    async def verify_token(self, token: str) -> AccessToken | None:
        user_id = await sync_to_async(_token_user_id, thread_sensitive=False)(token)
        if user_id is None:
            return None
        # The subject tells tokens apart: the SDK ties a session to the
        # (client_id, issuer, subject) that opened it.
        subject = hashlib.sha256(token.encode()).hexdigest()
        return AccessToken(
            token=token, client_id=f"user-{user_id}", scopes=[], subject=subject
        )


def _token_user_id(token: str) -> int | None:
    close_old_connections()
    try:
        user = user_for_token(token)
        return None if user is None else int(user.pk)
    except (OperationalError, InterfaceError) as exc:
        if outage.database_unavailable(exc):
            raise DatabaseDown from exc
        raise
    finally:
        close_old_connections()


def _secure(scope: Scope) -> bool:
    """Whether the request came over HTTPS, as Django's request.is_secure() reads it
    (SECURE_PROXY_SSL_HEADER: the TLS proxy's header, when one is configured)."""
    if scope.get("scheme") == "https":
        return True
    proxy_header = settings.SECURE_PROXY_SSL_HEADER
    if not proxy_header:
        return False
    name, value = proxy_header
    header = name.removeprefix("HTTP_").replace("_", "-").lower()
    sent = Headers(scope=scope).get(header, "")
    return sent.split(",", 1)[0].strip() == value


def _allowed_hosts() -> list[str]:
    """Django's ALLOWED_HOSTS, with its development default when empty."""
    if settings.DEBUG and not settings.ALLOWED_HOSTS:
        return [".localhost", "127.0.0.1", "[::1]"]
    return list(settings.ALLOWED_HOSTS)


class McpEndpoint:
    """/mcp: the Host check Django makes, then a bearer token, then the SDK.

    No Origin check: a page in a browser cannot send another site's bearer
    token, and a DNS-rebinding page arrives with its own name in Host, which
    the ALLOWED_HOSTS check refuses, as it does for every Django page.
    """

    def __init__(self) -> None:
        self.app = build_server().streamable_http_app(
            streamable_http_path=MCP_PATH,
            stateless_http=True,
            json_response=True,
            # The SDK's own check knows loopback names only; ALLOWED_HOSTS rules.
            transport_security=TransportSecuritySettings(
                enable_dns_rebinding_protection=False
            ),
        )
        self.guarded: ASGIApp = AuthenticationMiddleware(
            AuthContextMiddleware(RequireAuthMiddleware(self.app, required_scopes=[])),
            backend=BearerAuthBackend(ApiTokenVerifier()),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            # Starts and stops the SDK's session manager with the server.
            await self.app(scope, receive, send)
            return
        host, _port = split_domain_port(Headers(scope=scope).get("host", ""))
        if not host or not validate_host(host, _allowed_hosts()):
            await PlainTextResponse("Invalid Host header.", status_code=400)(
                scope, receive, send
            )
            return
        if settings.SECURE_SSL_REDIRECT and not _secure(scope):
            # Django redirects its pages to HTTPS (CAIRN_HTTPS); a redirect would
            # come after the bearer token crossed in clear, and loses a POST body.
            body = {
                "error": {
                    "type": "https_required",
                    "message": "This server takes MCP requests over HTTPS only.",
                }
            }
            await JSONResponse(body, status_code=403)(scope, receive, send)
            return
        try:
            await self.guarded(scope, receive, send)
        except DatabaseDown:
            # Raised while the token is checked, before any response began.
            body = {"error": {"type": "service_unavailable", "message": outage.MESSAGE}}
            headers = {"Retry-After": str(outage.RETRY_AFTER_S)}
            await JSONResponse(body, status_code=503, headers=headers)(
                scope, receive, send
            )
