"""What an API operation declares about itself: method, bodies, responses, errors.

`@operation(...)` turns a handler into an Endpoint; documents/api_auth.api_view
serves a path's endpoints (validating each request body with the declared model
and serialising the model the handler returns), and project/openapi.py writes the
OpenAPI document from the same declarations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class ErrorDetail(BaseModel):
    """What went wrong: a stable type and a human message."""

    type: str
    message: str


class ErrorBody(BaseModel):
    """Every API error: {"error": {"type", "message"}}."""

    error: ErrorDetail


class RequestBody(BaseModel):
    """A JSON request body, validated strictly: "5" is no integer and 1 no boolean."""

    model_config = ConfigDict(strict=True)

    # The error type of a body this model refuses, and the largest body it reads.
    error_type: ClassVar[str] = "invalid_request"
    max_bytes: ClassVar[int | None] = None


@dataclass(frozen=True)
class Response:
    """One documented response: a pydantic model, raw schema or no body."""

    description: str
    model: type[BaseModel] | None = None
    content_type: str = "application/json"
    schema: dict[str, Any] | None = None
    # More media types for the same status (the ask endpoint's event stream).
    alternatives: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    """One method on one API path, as its handler declares it."""

    method: str
    summary: str
    description: str
    request: type[RequestBody] | None
    # Other request media types; a request in one of them reaches the handler
    # unparsed (body=None), for it to read (the upload's multipart form).
    request_alternatives: dict[str, dict[str, Any]]
    responses: dict[int, Response]
    tag: str
    workspace: bool


@dataclass(frozen=True)
class Endpoint:
    """A handler and the operation it serves.

    The handler takes the request, the path's parameters and, if the operation
    declares a request model, `body`; it returns a declared response model,
    `(status, model)`, or an HttpResponse of its own (a stream, text, 204).
    """

    operation: Operation
    handler: Callable[..., Any]


def operation(
    method: str,
    summary: str,
    *,
    responses: dict[int, Response],
    description: str = "",
    request: type[RequestBody] | None = None,
    request_alternatives: dict[str, dict[str, Any]] | None = None,
    tag: str = "",
    workspace: bool = False,
) -> Callable[[Callable[..., Any]], Endpoint]:
    """Declare the operation a handler serves; project/api_urls routes it."""

    def decorate(handler: Callable[..., Any]) -> Endpoint:
        declared = Operation(
            method=method.upper(),
            summary=summary,
            description=description,
            request=request,
            request_alternatives=dict(request_alternatives or {}),
            responses=responses,
            tag=tag,
            workspace=workspace,
        )
        return Endpoint(declared, handler)

    return decorate


def error(description: str) -> Response:
    """A documented error response with the common error body."""
    return Response(description, ErrorBody)


UNAUTHENTICATED = error("No valid bearer token (or session, for reads).")
NOT_FOUND = error("No such object, or not in one of your workspaces.")
FORBIDDEN = error("Your role in the workspace does not allow this.")
INVALID = error("The request body or parameters are invalid.")
