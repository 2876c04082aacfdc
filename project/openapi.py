"""The REST API's OpenAPI 3.1 document, generated from the operations it serves.

Each path of project/api_urls.py `operations` serves handlers that declare their
operation (`@operation(...)`); the body schemas come from the same pydantic models
that validate requests and serialise responses, so the document cannot drift from
what the API does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import URLPattern
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from project import api_urls
from project.api_spec import NOT_FOUND, Operation, Response

API_PREFIX = "/api/v1/"
# (model, "validation" | "serialization") -> the model's schema or its $ref.
Refs = dict[tuple[Any, str], Any]
REF = "#/components/schemas/{model}"


_CONVERTER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


def openapi_path(route: str) -> str:
    """`documents/<str:document_id>` → `/api/v1/documents/{document_id}`."""
    return API_PREFIX + _CONVERTER.sub(r"{\g<name>}", route)


def api_patterns() -> list[URLPattern]:
    """The URL patterns of the API's operations under /api/v1/."""
    return [p for p in api_urls.operations if isinstance(p, URLPattern)]


def _operation_id(pattern: URLPattern, method: str) -> str:
    return f"{method.lower()}_{(pattern.name or '').replace('-', '_')}"


def _schemas(
    operations: Sequence[Operation],
) -> tuple[Refs, dict[str, Any]]:
    """JSON Schemas of every model, with shared definitions in components."""
    wanted: set[tuple[type[BaseModel], Literal["validation", "serialization"]]] = set()
    for op in operations:
        if op.request is not None:
            wanted.add((op.request, "validation"))
        for response in op.responses.values():
            if response.model is not None:
                wanted.add((response.model, "serialization"))
    ordered = sorted(wanted, key=lambda pair: (pair[0].__name__, pair[1]))
    refs, definitions = models_json_schema(ordered, ref_template=REF)
    by_model: Refs = {}
    for key, schema in refs.items():
        by_model[key] = schema
    return by_model, definitions.get("$defs", {})


def _parameters(pattern: URLPattern, op: Operation) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {
            "name": match.group("name"),
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
        }
        for match in _CONVERTER.finditer(str(pattern.pattern))
    ]
    if op.workspace:
        parameters.append(
            {
                "name": "X-Cairn-Workspace",
                "in": "header",
                "required": False,
                "description": "The workspace's code; default: your first workspace.",
                "schema": {"type": "string"},
            }
        )
    return parameters


def _response(response: Response, refs: Refs) -> dict[str, Any]:
    described: dict[str, Any] = {"description": response.description}
    schema = (
        refs[(response.model, "serialization")]
        if response.model is not None
        else response.schema
    )
    if schema is not None:
        described["content"] = {response.content_type: {"schema": schema}}
        for content_type, alternative in response.alternatives.items():
            described["content"][content_type] = {"schema": alternative}
    return described


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the whole REST API."""
    pairs = [
        (pattern, op)
        for pattern in api_patterns()
        for op in getattr(pattern.callback, "openapi_operations", [])
    ]
    refs, definitions = _schemas([op for _, op in pairs])
    paths: dict[str, dict[str, Any]] = {}
    for pattern, op in pairs:
        responses = dict(op.responses)
        if op.workspace:
            # Naming a workspace you are not in answers 404, on every such call.
            responses.setdefault(404, NOT_FOUND)
        described: dict[str, Any] = {
            "operationId": _operation_id(pattern, op.method),
            "summary": op.summary,
            "tags": [op.tag] if op.tag else [],
            "parameters": _parameters(pattern, op),
            "responses": {
                str(status): _response(response, refs)
                for status, response in sorted(responses.items())
            },
        }
        if op.description:
            described["description"] = op.description
        if op.request is not None:
            schema = refs[(op.request, "validation")]
            described["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": schema}},
            }
            for content_type, alternative in op.request_alternatives.items():
                described["requestBody"]["content"][content_type] = {
                    "schema": alternative
                }
        path = openapi_path(str(pattern.pattern))
        paths.setdefault(path, {})[op.method.lower()] = described
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Cairn API",
            "version": "1",
            "description": (
                "Upload documents, search them and ask cited questions. "
                "Authenticate with 'Authorization: Bearer <token>' "
                "(python manage.py create_api_token USERNAME, or the Tokens page)."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "schemas": definitions,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }


def openapi_json(request: HttpRequest) -> HttpResponse:
    """GET /api/v1/openapi.json: the document, public."""
    return JsonResponse(document(), json_dumps_params={"indent": 1})


def _resolve(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref", "")
    name = ref.rsplit("/", 1)[-1]
    return dict(definitions.get(name, schema))


def _rows(schema: dict[str, Any], definitions: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per property of an object schema, for the docs page."""
    resolved = _resolve(schema, definitions)
    required = set(resolved.get("required", []))
    rows = []
    for name, prop in resolved.get("properties", {}).items():
        rows.append(
            {
                "name": name,
                "type": _type_name(prop),
                "required": name in required,
                "description": prop.get("description", ""),
            }
        )
    return rows


def _type_name(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        return str(prop["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in prop:
        return " | ".join(_type_name(p) for p in prop["anyOf"])
    if prop.get("type") == "array":
        return f"list[{_type_name(prop.get('items', {}))}]"
    return str(prop.get("type", prop.get("format", "any")))


def docs_page(request: HttpRequest) -> HttpResponse:
    """GET /api/v1/docs: the document as a browsable page, rendered server-side."""
    spec = document()
    definitions = spec["components"]["schemas"]
    operations = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {})
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "id": op["operationId"],
                    "summary": op["summary"],
                    "description": op.get("description", ""),
                    "parameters": op["parameters"],
                    "request": [
                        {
                            "content_type": content_type,
                            "rows": _rows(media["schema"], definitions),
                        }
                        for content_type, media in body.items()
                    ],
                    "responses": [
                        {
                            "status": status,
                            "description": response["description"],
                            "content": [
                                {
                                    "content_type": content_type,
                                    "name": _type_name(media["schema"]),
                                }
                                for content_type, media in response.get(
                                    "content", {}
                                ).items()
                            ],
                        }
                        for status, response in op["responses"].items()
                    ],
                }
            )
    schemas = [
        {"name": name, "rows": _rows(schema, definitions)}
        for name, schema in sorted(definitions.items())
    ]
    return render(
        request,
        "api/docs.html",
        {"info": spec["info"], "operations": operations, "schemas": schemas},
    )
