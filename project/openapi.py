"""The REST API's OpenAPI 3.1 document, as ninja writes it from the operations'
pydantic models (project/api.py), and the page that shows it."""

from __future__ import annotations

import json
import re
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import URLPattern

from project import api

API_PREFIX = "/api/v1/"


def api_patterns() -> list[URLPattern]:
    """The URL patterns of the API's operations under /api/v1/."""
    return api.operations


def openapi_path(route: str) -> str:
    """`documents/<document_id>` → `/api/v1/documents/{document_id}`."""
    return API_PREFIX + re.sub(r"<(?:[^>:]+:)?([^>]+)>", r"{\1}", route)


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the whole REST API, as JSON reads it."""
    spec = api.api.get_openapi_schema(path_prefix=API_PREFIX.removeprefix("/"))
    # Status codes become strings, as in the served document.
    return dict(json.loads(json.dumps(spec)))


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
