"""ASGI entry point of the web tier: Django's pages and API, and MCP at /mcp.

Django stays a WSGI application, run by a2wsgi in a pool of threads: its sync
views and streamed answers (Server-Sent Events from a generator) behave as they
did under gunicorn's threaded worker, where Django's own ASGI handler would run
every sync view on one thread per process and buffer a sync generator whole.
The MCP endpoint is the SDK's ASGI app, and the lifespan events start and stop
its session manager.
"""

from __future__ import annotations

import os

from a2wsgi import WSGIMiddleware
from django.core.wsgi import get_wsgi_application
from starlette.types import Receive, Scope, Send

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
# Sets Django up: the models mcpserver imports need it first.
wsgi_application = get_wsgi_application()

from mcpserver.http import McpEndpoint, is_mcp_path  # noqa: E402

# Requests Django serves at once in each web process (gunicorn's --threads 8
# before MCP came).
DJANGO_THREADS = 8

django_app = WSGIMiddleware(wsgi_application, workers=DJANGO_THREADS)  # type: ignore[arg-type]
mcp_app = McpEndpoint()


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    """Send /mcp and the lifespan events to MCP, everything else to Django."""
    if scope["type"] == "lifespan" or (
        scope["type"] == "http" and is_mcp_path(scope["path"])
    ):
        await mcp_app(scope, receive, send)
    else:
        await django_app(scope, receive, send)  # type: ignore[arg-type]
