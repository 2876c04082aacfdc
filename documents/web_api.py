"""REST API for the web as a source: POST /api/v1/documents with {"url": ...}."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from documents import selectors
from documents.api_auth import ApiError, json_body
from documents.models import Workspace
from documents.remote.web import WebError
from documents.web import documents as web_documents


def document_from_url(request: HttpRequest, workspace: Workspace) -> JsonResponse:
    """Queue a URL document; refusals answer 400 with the web fetch error code."""
    from documents.api import document_json

    if len(request.body) > 16 * 1024:
        raise ApiError(400, "invalid_input", "The JSON body is too large.")
    url = json_body(request).get("url")
    if not isinstance(url, str) or not url.strip():
        raise ApiError(400, "invalid_input", 'Send {"url": "https://..."}.')
    try:
        created = web_documents.document_create_from_url(
            workspace=workspace, uploader=request.user, url=url
        )
    except WebError as exc:
        raise ApiError(400, exc.code, exc.message) from exc
    document = selectors.document_get_for_user(
        user=request.user, document_id=created.document.id
    )
    payload = document_json(document) | {"duplicate": created.duplicate}
    return JsonResponse(payload, status=200 if created.duplicate else 201)
