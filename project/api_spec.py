"""What an API view declares about itself: operations, responses, error bodies.

`@operation(...)` beside `@api_view` attaches the declaration; project/openapi.py
reads it to write the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel


class ErrorDetail(BaseModel):
    """What went wrong: a stable type and a human message."""

    type: str
    message: str


class ErrorBody(BaseModel):
    """Every API error: {"error": {"type", "message"}}."""

    error: ErrorDetail


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
    """One method on one API path, as the view declares it."""

    method: str
    summary: str
    description: str
    request: type[BaseModel] | None
    request_schema: dict[str, Any] | None
    request_content_type: str
    request_alternatives: dict[str, dict[str, Any]]
    responses: dict[int, Response]
    tag: str
    workspace: bool


def operation(
    method: str,
    summary: str,
    *,
    responses: dict[int, Response],
    description: str = "",
    request: type[BaseModel] | None = None,
    request_schema: dict[str, Any] | None = None,
    request_content_type: str = "application/json",
    request_alternatives: dict[str, dict[str, Any]] | None = None,
    tag: str = "",
    workspace: bool = False,
) -> Callable[[Any], Any]:
    """Attach an operation to a view; apply it outside `@api_view`."""

    def decorate(view: Any) -> Any:
        declared: list[Operation] = list(getattr(view, "openapi_operations", []))
        declared.append(
            Operation(
                method=method.upper(),
                summary=summary,
                description=description,
                request=request,
                request_schema=request_schema,
                request_content_type=request_content_type,
                request_alternatives=dict(request_alternatives or {}),
                responses=responses,
                tag=tag,
                workspace=workspace,
            )
        )
        view.openapi_operations = declared
        return view

    return decorate


def error(description: str) -> Response:
    """A documented error response with the common error body."""
    return Response(description, ErrorBody)


UNAUTHENTICATED = error("No valid bearer token (or session, for reads).")
NOT_FOUND = error("No such object, or not in one of your workspaces.")
FORBIDDEN = error("Your role in the workspace does not allow this.")
INVALID = error("The request body or parameters are invalid.")
NOT_ALLOWED = error("The method is not allowed on this path.")
