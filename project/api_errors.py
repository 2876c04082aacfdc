"""JSON errors for everything under /api/v1/, whatever refused the request.

The API views answer their own errors as {"error": {"type", "message"}}, but
some refusals happen before a view can: Django's multipart parser (no boundary,
a garbage body, too many parts, a part's headers over 1,024 bytes such as a
1,000-character file name), its body-size limits, an unknown URL, an uncaught
exception. Django answers those with its HTML error pages; this middleware
answers them in the API's documented shape instead, keeping each status (a
size refusal stays 413). Pages outside the API keep Django's HTML.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import (
    BadRequest,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.http.response import HttpResponseBase

API_PREFIX = "/api/v1/"

# The error type and message for a status whose response was not JSON.
_BY_STATUS = {
    400: ("invalid_request", "The request cannot be read."),
    401: ("authentication_error", "Authentication is required."),
    403: ("permission_error", "Not allowed."),
    404: ("not_found", "There is nothing at this address in the API."),
    405: ("method_not_allowed", "This method is not allowed here."),
    413: ("request_too_large", "The request is larger than the limit."),
    415: ("unsupported_media_type", "The content type is not supported."),
    429: ("rate_limited", "Too many requests; try again later."),
    503: ("unavailable", "The service is unavailable; try again shortly."),
}
_SERVER_ERROR = ("api_error", "Something went wrong on Cairn's side; it was logged.")


def error_json(status: int, type_: str, message: str) -> JsonResponse:
    """The body every API error has: {"error": {"type", "message"}}."""
    return JsonResponse({"error": {"type": type_, "message": message}}, status=status)


def _for_exception(exception: Exception) -> JsonResponse | None:
    """The JSON answer to a refusal raised while reading the request, if it is one."""
    if isinstance(exception, RequestDataTooBig):
        return error_json(
            413, "request_too_large", "The request body is larger than the limit."
        )
    if isinstance(exception, TooManyFilesSent):
        return error_json(
            400, "invalid_request", "Too many files in one request; send one 'file'."
        )
    if isinstance(exception, TooManyFieldsSent):
        return error_json(400, "invalid_request", "Too many fields in one request.")
    if isinstance(exception, MultiPartParserError):
        detail = str(exception)
        if "header size" in detail:
            message = (
                "A part of the multipart body has headers over 1,024 bytes; "
                "send a file name of at most 255 characters."
            )
        else:
            message = (
                "The body is not valid multipart/form-data (a boundary and "
                "well-formed parts are needed); send the file in field 'file'."
            )
        return error_json(400, "invalid_request", message)
    if isinstance(exception, BadRequest | SuspiciousOperation):
        return error_json(400, "invalid_request", "The request cannot be read.")
    return None


class ApiErrorMiddleware:
    """Turn every non-JSON error under /api/v1/ into the API's JSON error body."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if not request.path.startswith(API_PREFIX) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        type_, message = _BY_STATUS.get(response.status_code, _SERVER_ERROR)
        if response.status_code < 500 and response.status_code not in _BY_STATUS:
            type_ = "invalid_request"
        json_response = error_json(response.status_code, type_, message)
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                json_response[header] = response[header]
        return json_response

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        """Answer request-reading refusals raised in a view; others go on to be
        logged by Django (their HTML 500 becomes JSON in __call__)."""
        if not request.path.startswith(API_PREFIX):
            return None
        return _for_exception(exception)
