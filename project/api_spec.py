"""What every API operation shares: the error body, strict JSON bodies, error docs.

The operations themselves (documents/api.py, search/api.py) declare their paths,
bodies and responses to django-ninja; project/api.py serves them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse
from pydantic import BaseModel, ConfigDict, ValidationError


class ApiError(Exception):
    """An error answered as JSON {"error": {"type", "message"}}."""

    def __init__(self, status: int, type_: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message


class ErrorDetail(BaseModel):
    """What went wrong: a stable type and a human message."""

    type: str
    message: str


class ErrorBody(BaseModel):
    """Every API error: {"error": {"type", "message"}}."""

    error: ErrorDetail


def error_response(status: int, type_: str, message: str) -> HttpResponse:
    """The JSON body every API error has."""
    body = ErrorBody(error=ErrorDetail(type=type_, message=message))
    return HttpResponse(
        body.model_dump_json(), status=status, content_type="application/json"
    )


class RequestBody(BaseModel):
    """A JSON request body, validated strictly: "5" is no integer and 1 no boolean."""

    model_config = ConfigDict(strict=True)


# What each documented error status means, on every operation.
ERRORS = {
    400: "The request body or parameters are invalid.",
    401: "No valid bearer token (or session, for reads).",
    403: "Your role in the workspace does not allow this.",
    404: "No such object, or not in one of your workspaces.",
    413: "The upload is larger than the limit.",
    415: "The file type is not supported.",
}


def errors(*statuses: int) -> dict[int, type[ErrorBody]]:
    """An operation's documented error responses, for ninja's `response=`."""
    return dict.fromkeys(statuses, ErrorBody)


# An operation acting in a workspace names it by this header.
WORKSPACE: dict[str, Any] = {
    "parameters": [
        {
            "name": "X-Cairn-Workspace",
            "in": "header",
            "required": False,
            "description": "The workspace's code; default: your first workspace.",
            "schema": {"type": "string"},
        }
    ]
}


def json_object(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object body, or ApiError 400.

    NUL characters are refused here because PostgreSQL text cannot hold them:
    letting one through turns a bad request into a database error.
    """
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_request", "The body must be JSON.") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "The body must be a JSON object.")
    if _has_nul(body):
        raise ApiError(
            400, "invalid_request", "Strings must not contain NUL (\\u0000)."
        )
    return body


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def explain(errors: Sequence[Any], skip: int = 0) -> str:
    """Each refusal as `'top_k': Input should be less than or equal to 100.`

    `skip` drops leading parts of each location (ninja's "body", <parameter>).
    """
    return " ".join(
        f"'{'.'.join(map(str, e['loc'][skip:])) or 'body'}': {e['msg']}."
        for e in errors
    )


Body = TypeVar("Body", bound=RequestBody)


def parse_body(
    request: HttpRequest, model: type[Body], *, error_type: str, max_bytes: int
) -> Body:
    """A JSON body the handler reads itself (one of several media types)."""
    if len(request.body) > max_bytes:
        raise ApiError(400, error_type, "The JSON body is too large.")
    try:
        return model.model_validate(json_object(request))
    except ValidationError as exc:
        raise ApiError(400, error_type, explain(exc.errors())) from None
