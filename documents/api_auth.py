"""Bearer-token authentication and JSON errors for the REST API."""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from documents.models import ApiToken

TOKEN_PREFIX = "cairn_"


class ApiError(Exception):
    """An error answered as JSON {"error": {"type", "message"}}."""

    def __init__(self, status: int, type_: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message


def error_response(status: int, type_: str, message: str) -> JsonResponse:
    """The JSON body every API error has."""
    return JsonResponse({"error": {"type": type_, "message": message}}, status=status)


def json_body(request: HttpRequest) -> dict[str, Any]:
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


def api_view(methods: tuple[str, ...]) -> Callable[[View], View]:
    """Authenticate by bearer token (or by session for reads) and map errors to JSON."""

    def decorate(view: View) -> View:
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(
            request: HttpRequest, *args: Any, **kwargs: Any
        ) -> HttpResponseBase:
            header = request.headers.get("Authorization", "")
            if header.startswith("Bearer "):
                user = user_for_token(header.removeprefix("Bearer ").strip())
                if user is None:
                    return error_response(
                        401,
                        "authentication_error",
                        "The API token is invalid or revoked.",
                    )
                request.user = user
            elif not (request.method == "GET" and request.user.is_authenticated):
                return error_response(
                    401,
                    "authentication_error",
                    "Send 'Authorization: Bearer <token>' "
                    "(python manage.py create_api_token USERNAME).",
                )
            if request.method not in methods:
                return error_response(
                    405, "method_not_allowed", f"{request.method} is not allowed here."
                )
            try:
                return view(request, *args, **kwargs)
            except ApiError as exc:
                return error_response(exc.status, exc.type, exc.message)
            except Http404 as exc:
                return error_response(404, "not_found", str(exc) or "Not found.")
            except PermissionDenied as exc:
                return error_response(
                    403, "permission_error", str(exc) or "Not allowed."
                )

        # project/openapi.py's tests check each allowed method is documented.
        wrapper.api_methods = methods  # type: ignore[attr-defined]
        return wrapper

    return decorate


def user_model() -> Any:
    """The configured user model."""
    return get_user_model()
