"""The REST API's runtime: bearer tokens, validated bodies, models out, JSON errors."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from pydantic import BaseModel, ValidationError

from documents.models import ApiToken
from project.api_spec import Endpoint, ErrorBody, ErrorDetail, RequestBody

TOKEN_PREFIX = "cairn_"


class ApiError(Exception):
    """An error answered as JSON {"error": {"type", "message"}}."""

    def __init__(self, status: int, type_: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message


def error_response(status: int, type_: str, message: str) -> HttpResponse:
    """The JSON body every API error has."""
    return _json(ErrorBody(error=ErrorDetail(type=type_, message=message)), status)


def _json(body: BaseModel, status: int) -> HttpResponse:
    return HttpResponse(
        body.model_dump_json(), status=status, content_type="application/json"
    )


def _json_object(request: HttpRequest) -> dict[str, Any]:
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


def _body(
    request: HttpRequest,
    model: type[RequestBody],
    alternatives: dict[str, dict[str, Any]],
) -> RequestBody | None:
    """The request body as the model, or ApiError 400 naming the refused fields.

    Where an operation accepts other media types too, only a JSON request is
    parsed; the others reach the handler as None, for it to read.
    """
    if alternatives and request.content_type != "application/json":
        return None
    if model.max_bytes is not None and len(request.body) > model.max_bytes:
        raise ApiError(400, model.error_type, "The JSON body is too large.")
    try:
        return model.model_validate(_json_object(request))
    except ValidationError as exc:
        raise ApiError(400, model.error_type, _explain(exc)) from None


def _explain(exc: ValidationError) -> str:
    """Each refusal as `'top_k': Input should be less than or equal to 100.`"""
    return " ".join(
        f"'{'.'.join(map(str, e['loc']))}': {e['msg']}." for e in exc.errors()
    )


def token_create(*, user: Any, name: str = "cli") -> str:
    """Create a token for a user and return it; only its hash is stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, name=name, prefix=raw[:12], key_hash=_hash(raw))
    return raw


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def user_for_token(raw: str) -> Any | None:
    """The active user a token belongs to, or None."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_hash(raw), revoked__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    ApiToken.objects.filter(id=token.id).update(last_used=timezone.now())
    return token.user


View = Callable[..., HttpResponseBase]


def api_view(*endpoints: Endpoint) -> View:
    """One API path, each endpoint serving the method its operation declares.

    Authenticates by bearer token (or by session, for reads), hands the handler
    its body validated by the declared model, serialises the model it returns,
    and answers ApiError, Http404 and PermissionDenied as JSON errors.
    """
    by_method = {endpoint.operation.method: endpoint for endpoint in endpoints}

    @csrf_exempt
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            _authenticate(request)
            endpoint = by_method.get(request.method or "")
            if endpoint is None:
                raise ApiError(
                    405, "method_not_allowed", f"{request.method} is not allowed here."
                )
            return _serve(endpoint, request, *args, **kwargs)
        except ApiError as exc:
            return error_response(exc.status, exc.type, exc.message)
        except Http404 as exc:
            return error_response(404, "not_found", str(exc) or "Not found.")
        except PermissionDenied as exc:
            return error_response(403, "permission_error", str(exc) or "Not allowed.")

    # project/openapi.py documents the path from these.
    view.openapi_operations = [e.operation for e in endpoints]  # type: ignore[attr-defined]
    return view


def _authenticate(request: HttpRequest) -> None:
    """The bearer token's user on the request; a session serves reads only."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        user = user_for_token(header.removeprefix("Bearer ").strip())
        if user is None:
            raise ApiError(
                401, "authentication_error", "The API token is invalid or revoked."
            )
        request.user = user
    elif not (request.method == "GET" and request.user.is_authenticated):
        raise ApiError(
            401,
            "authentication_error",
            "Send 'Authorization: Bearer <token>' "
            "(python manage.py create_api_token USERNAME).",
        )


def _serve(
    endpoint: Endpoint, request: HttpRequest, *args: Any, **kwargs: Any
) -> HttpResponseBase:
    """Call the handler with its validated body; serialise what it returns."""
    op = endpoint.operation
    if op.request is not None:
        kwargs["body"] = _body(request, op.request, op.request_alternatives)
    result = endpoint.handler(request, *args, **kwargs)
    if isinstance(result, HttpResponseBase):
        return result
    status, body = result if isinstance(result, tuple) else (200, result)
    declared = op.responses.get(status)
    if (
        declared is None
        or declared.model is None
        or not isinstance(body, declared.model)
    ):
        # A handler answering other than it declares is a bug, not a bad request.
        raise TypeError(f"{op.method} {op.summary!r} answered {status} undeclared")
    return _json(body, status)


def user_model() -> Any:
    """The configured user model."""
    return get_user_model()
