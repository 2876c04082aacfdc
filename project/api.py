"""The REST API under /api/v1/, served by django-ninja with Cairn's own errors.

The operations live in documents/api.py and search/api.py; ninja validates each
JSON body with the operation's pydantic model, serialises the model a handler
returns and writes the OpenAPI document from the same models. What Cairn adds
here is where its API differs from ninja's defaults: bearer token or a session
for reads, {"error": {"type", "message"}} for every error (ninja's are 422 and
{"detail"}), NUL refused in bodies, and a wrong method answered as JSON after
authentication.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import URLPattern
from ninja import NinjaAPI
from ninja.errors import HttpError, ValidationError
from ninja.operation import Operation
from ninja.parser import Parser
from ninja.security import HttpBearer

from documents import api as documents_api
from documents.api_auth import user_for_token
from project.api_spec import ERRORS, ApiError, error_response, explain, json_object
from search import api as search_api


class BearerToken(HttpBearer):
    """The bearer token's user; a signed-in session serves reads only."""

    def __call__(self, request: HttpRequest) -> Any:
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
        return request.user

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        """HttpBearer's own hook; __call__ above reads the header itself."""
        return user_for_token(token)


class JsonObject(Parser):
    """Bodies are JSON objects without NUL (project/api_spec.json_object)."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        return json_object(request)


class CairnAPI(NinjaAPI):
    """Operation ids as `post_api_search`, each error status described, and one
    security scheme for the whole API, named `bearerAuth` as clients know it."""

    def get_openapi_operation_id(self, operation: Operation) -> str:
        name = (operation.url_name or "").replace("-", "_")
        return f"{operation.methods[0].lower()}_{name}"

    def get_openapi_schema(self, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(**kwargs)
        schema["security"] = [{"bearerAuth": []}]
        schema["components"]["securitySchemes"] = {
            "bearerAuth": {"type": "http", "scheme": "bearer"}
        }
        for methods in schema["paths"].values():
            for op in methods.values():
                op.pop("security", None)
                for status, response in op["responses"].items():
                    if int(status) in ERRORS:
                        response["description"] = ERRORS[int(status)]
        return schema


api = CairnAPI(
    title="Cairn API",
    version="1",
    description=(
        "Upload documents, search them and ask cited questions. "
        "Authenticate with 'Authorization: Bearer <token>' "
        "(python manage.py create_api_token USERNAME, or the Tokens page)."
    ),
    servers=[{"url": "/"}],
    auth=BearerToken(),
    parser=JsonObject(),
    # project/openapi.py serves the document and its page.
    openapi_url=None,
    docs_url=None,
    urls_namespace="api",
)
api.add_router("", documents_api.router)
api.add_router("", search_api.router)


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return error_response(exc.status, exc.type, exc.message)


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    # ninja's locations start with ("body", <parameter>); the field follows.
    return error_response(400, "invalid_request", explain(exc.errors, skip=2))


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # ninja wraps what the parser refused; answer it as the parser said.
    if isinstance(exc.__cause__, ApiError):
        return _api_error(request, exc.__cause__)
    return error_response(exc.status_code, "invalid_request", exc.message)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(404, "not_found", str(exc) or "Not found.")


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return error_response(403, "permission_error", str(exc) or "Not allowed.")


View = Callable[..., HttpResponseBase]


def _json_405(view: View) -> View:
    """A wrong method: authenticate first, then answer JSON (ninja sends text)."""

    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        if response.status_code != 405:
            return response
        try:
            BearerToken()(request)
        except ApiError as exc:
            return _api_error(request, exc)
        return error_response(
            405, "method_not_allowed", f"{request.method} is not allowed here."
        )

    wrapper.csrf_exempt = True  # type: ignore[attr-defined]
    return wrapper


def _operations() -> list[URLPattern]:
    # ninja adds an empty "api-root" path; Cairn answers /api/v1/ with a plain 404.
    patterns = [p for p in api.urls[0] if isinstance(p, URLPattern) and str(p.pattern)]
    for pattern in patterns:
        pattern.callback = _json_405(pattern.callback)
    return patterns


# The API's paths under /api/v1/, for project/urls.py.
operations = _operations()
