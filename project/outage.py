"""While the database is down, answer 503 (JSON under /api/), not a 500 page.

The middleware catches the outage in views and in template rendering; the
500 handler catches it anywhere else (another middleware reading the session,
say). Both answer without touching the database: the HTML page is rendered
with no request context, so no context processor runs a query.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5
MESSAGE = "The database is unavailable; try again in a moment."


def database_unavailable(exc: BaseException | None) -> bool:
    """Tell whether an exception means the database cannot be reached.

    A lost or refused connection carries no SQLSTATE; a server shutting down,
    crashing or still starting up answers 57P01-57P03, and the 08 class is
    connection trouble. A query cancelled by a timeout (57014) or a deadlock is
    an error of that request, not an outage.
    """
    if isinstance(exc, InterfaceError):
        return True  # "connection already closed"
    if not isinstance(exc, OperationalError):
        return False
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith(("08", "57P"))


def unavailable_response(request: HttpRequest) -> HttpResponse:
    """A 503 in the shape the caller reads: the API's JSON error or a small page."""
    response: HttpResponse
    if request.path.startswith("/api/"):
        body = {"error": {"type": "service_unavailable", "message": MESSAGE}}
        response = JsonResponse(body, status=503)
    else:
        page = render_to_string("503.html", {"retry_after": RETRY_AFTER_S})
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(RETRY_AFTER_S)
    return response


class DatabaseOutageMiddleware:
    """Turns a database outage raised by a view into a 503."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if not database_unavailable(exception):
            return None
        log.warning("database unavailable: %s %s", request.method, request.path)
        return unavailable_response(request)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a 503 for an outage, JSON under /api/, else Django's page."""
    if database_unavailable(sys.exc_info()[1]):
        return unavailable_response(request)
    if request.path.startswith("/api/"):
        body = {"error": {"type": "server_error", "message": "Internal error."}}
        return JsonResponse(body, status=500)
    return defaults.server_error(request)
