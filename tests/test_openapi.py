"""The OpenAPI document: complete, valid against real responses, and fuzzed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from documents.api_auth import token_create
from project import openapi
from project.wsgi import application
from search import answering
from tests.conftest import HANDBOOK, ingested, upload
from tests.pdfs import make_pdf


def _validate(spec: dict[str, Any], path: str, method: str, response: Any) -> None:
    """The response's JSON body validates against the documented schema."""
    described = spec["paths"][path][method]["responses"][str(response.status_code)]
    schema = described["content"]["application/json"]["schema"]
    validator = jsonschema_rs.Draft202012Validator(
        {**schema, "components": spec["components"]}
    )
    errors = [e.message for e in validator.iter_errors(response.json())]
    assert errors == [], (path, method, errors)


def test_the_document_schema_describes_failure_kind_and_retryable() -> None:
    schema = openapi.document()["components"]["schemas"]["DocumentOut"]
    properties = schema["properties"]
    assert {"failure_kind", "failure_message", "retryable"} <= properties.keys()
    assert "damaged" in properties["failure_kind"]["description"]
    assert {"failure_kind", "retryable"} <= set(schema["required"])


def test_every_api_url_and_method_is_described(api: Client) -> None:
    """A method is served (answers other than 405) exactly where it is described."""
    spec = openapi.document()
    described = {
        (path, method.upper()) for path, ops in spec["paths"].items() for method in ops
    }
    served = set()
    for pattern in openapi.api_patterns():
        path = openapi.openapi_path(str(pattern.pattern))
        url = re.sub(r"{\w+}", "x", path)
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            response = api.generic(method, url, "{}", content_type="application/json")
            if response.status_code != 405:
                served.add((path, method))
    assert described == served
    assert spec["paths"]["/api/v1/search"]["post"]["operationId"] == "post_api_search"
    for path, ops in spec["paths"].items():
        for op in ops.values():
            assert "401" in op["responses"], (path, op["operationId"])
            for name in re.findall(r"{(\w+)}", path):
                assert name in {p["name"] for p in op["parameters"]}


def test_openapi_json_is_public_and_docs_page_lists_operations(client: Any) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["openapi"].startswith("3.1")
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.content.decode()
    for path, ops in spec["paths"].items():
        for method in ops:
            assert f"{method.upper()} {path}" in html
    assert 'id="schema-AnswerOut"' in html


def test_real_responses_match_the_document(api: Client, user: Any) -> None:
    spec = openapi.document()
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    cases = [
        ("/api/v1/documents", "get", api.get("/api/v1/documents")),
        (
            "/api/v1/documents/{document_id}",
            "get",
            api.get(f"/api/v1/documents/{document.id}"),
        ),
        (
            "/api/v1/documents/{document_id}",
            "patch",
            api.patch(
                f"/api/v1/documents/{document.id}",
                json.dumps({"tags": ["hr"]}),
                content_type="application/json",
            ),
        ),
        (
            "/api/v1/search",
            "post",
            api.post(
                "/api/v1/search",
                json.dumps({"query": "vacation days", "top_k": 2}),
                content_type="application/json",
            ),
        ),
    ]
    asked = api.post(
        "/api/v1/ask",
        json.dumps({"question": "How many vacation days?"}),
        content_type="application/json",
    )
    code = asked.json()["id"]
    cases += [
        ("/api/v1/ask", "post", asked),
        ("/api/v1/answers/{code}", "get", api.get(f"/api/v1/answers/{code}")),
        (
            "/api/v1/answers/{code}/feedback",
            "post",
            api.post(
                f"/api/v1/answers/{code}/feedback",
                json.dumps({"helpful": True, "comment": "ok"}),
                content_type="application/json",
            ),
        ),
        ("/api/v1/conversations", "get", api.get("/api/v1/conversations")),
        ("/api/v1/answers/{code}", "get", api.get("/api/v1/answers/nope")),
        (
            "/api/v1/search",
            "post",
            api.post("/api/v1/search", "{", content_type="application/json"),
        ),
        ("/api/v1/documents", "get", Client().get("/api/v1/documents")),
    ]
    uploaded = api.post(
        "/api/v1/documents", {"file": upload("notes.md", b"# Notes\n\nHello.")}
    )
    failed = ingested(user, "blank.md", b"   \n")
    cases.append(
        (
            "/api/v1/documents/{document_id}",
            "get",
            api.get(f"/api/v1/documents/{failed.id}"),
        )
    )
    cases.append(("/api/v1/documents", "post", uploaded))
    statuses = set()
    for path, method, response in cases:
        statuses.add(response.status_code)
        _validate(spec, path, method, response)
    assert {200, 201, 400, 401, 404} <= statuses


def test_nul_in_a_json_string_is_a_400_not_a_database_error(
    api: Client, user: Any
) -> None:
    """Found by schemathesis: PostgreSQL text cannot hold NUL, so refuse it up front."""
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    for method, path, body in (
        ("patch", f"/api/v1/documents/{document.id}", {"tags": ["a\x00b"]}),
        ("post", "/api/v1/search", {"query": "vacation", "tags": ["\x00"]}),
        ("post", "/api/v1/ask", {"question": "vacation\x00?"}),
        ("post", "/api/v1/documents", {"url": "https://example.com/\x00"}),
    ):
        response = getattr(api, method)(
            path, json.dumps(body), content_type="application/json"
        )
        assert response.status_code == 400, (path, response.content)
        assert response.json()["error"]["type"] == "invalid_request"


# Schemathesis fetches the document from the app itself, as a client would.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


@pytest.fixture
def keep_connection() -> Iterator[None]:
    """Calls through the real WSGI handler must not close the test's transaction.

    Django's own test client does the same: the handler's request signals close
    "old" connections, which here is the one holding the test's transaction.
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_data(user: Any, keep_connection: None) -> dict[str, str]:
    """A user with a token, two documents and an answer for the fuzzer to hit."""
    handbook = ingested(user, "handbook.md", HANDBOOK.encode())
    ingested(user, "policy.pdf", make_pdf([["Travel policy", "Book trains early."]]))
    answer = answering.answer_question(
        workspace=handbook.workspace, user=user, text="How many vacation days?"
    )
    return {
        "token": token_create(user=user),
        "document_id": str(handbook.id),
        "code": str(answer.code),
    }


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error_on_any_generated_input(
    case: Any, fuzz_data: dict[str, str]
) -> None:
    headers = {"Authorization": f"Bearer {fuzz_data['token']}"}
    case.call_and_validate(
        headers=headers,
        checks=[
            not_a_server_error,
            status_code_conformance,
            response_schema_conformance,
        ],
    )
    # The generated ids almost never exist; try the same request on real ones too.
    if case.path_parameters:
        case.path_parameters = {
            name: fuzz_data.get(name, value)
            for name, value in case.path_parameters.items()
        }
        case.call_and_validate(
            headers=headers,
            checks=[
                not_a_server_error,
                status_code_conformance,
                response_schema_conformance,
            ],
        )
