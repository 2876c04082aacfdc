"""REST API for documents: upload, list, detail, text, delete."""

from __future__ import annotations

from typing import Any, Self

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import Router, Status
from pydantic import BaseModel, Field

from documents import display, selectors, services
from documents.ingestion import failures
from documents.models import Document, Workspace
from documents.remote.web import INVALID_INPUT, WebError
from documents.teams.permissions import EDITOR, require_role
from documents.web import documents as web_documents
from project.api_spec import WORKSPACE, ApiError, RequestBody, errors, parse_body


class DocumentOut(BaseModel):
    """A document and where its ingestion stands."""

    id: str = Field(description="UUID")
    title: str
    filename: str
    status: str = Field(description="queued | processing | ready | failed")
    stage: str
    progress: int = Field(description="0-100")
    error: str | None = Field(description="The technical reason of a failure")
    failure_kind: str | None = Field(
        description="For a failed document, what went wrong: "
        + " | ".join(failures.KINDS)
        + "; null otherwise (and for failures recorded before kinds existed)"
    )
    failure_message: str | None = Field(
        description="For a failed document, the failure in plain words, as the "
        "documents page shows it"
    )
    retryable: bool | None = Field(
        description="For a failed document, whether trying again can help "
        "(true for transient causes: a site or service that did not answer); "
        "null unless failed"
    )
    file_id: str | None = Field(description="Anthropic Files API id, if uploaded")
    files_api_note: str | None
    pages: int | None
    ocr_pages: list[int] = Field(description="Pages whose text came from OCR")
    unreadable_pages: list[int] = Field(
        description="Pages OCR found no text on (not searchable)"
    )
    chunk_count: int | None
    mime_type: str
    size: int
    sha256: str
    tags: list[str]
    created: str = Field(description="ISO 8601")
    source_url: str | None
    fetched_at: str | None

    @classmethod
    def of(cls, document: Document, **extra: Any) -> Self:
        """The API's view of a document (the list annotates chunk_count)."""
        failed = display.failure(document)
        return cls(
            id=str(document.id),
            title=document.title,
            filename=document.original_name,
            status=document.status,
            stage=document.stage,
            progress=document.progress,
            error=document.error or None,
            failure_kind=(document.failure_kind or None) if failed else None,
            failure_message=failed.message if failed else None,
            retryable=failed.retryable if failed else None,
            file_id=document.file_id or None,
            files_api_note=document.files_api_note or None,
            pages=document.pages,
            ocr_pages=list(document.ocr_pages or []),
            unreadable_pages=list(document.unreadable_pages or []),
            chunk_count=getattr(document, "chunk_count", None),
            mime_type=document.mime_type,
            size=document.size,
            sha256=document.sha256,
            tags=list(document.tags),
            created=document.created.isoformat(),
            source_url=document.source_url or None,
            fetched_at=document.fetched_at.isoformat() if document.fetched_at else None,
            **extra,
        )


class DocumentCreated(DocumentOut):
    """An upload's document; `duplicate` when the same bytes were already there."""

    duplicate: bool


class DocumentList(BaseModel):
    """The documents of the workspace."""

    documents: list[DocumentOut]


class UrlDocumentIn(RequestBody):
    """A web page to fetch and ingest."""

    url: str = Field(min_length=1, description="http(s) URL")


class TagsIn(RequestBody):
    """The document's new tags (replacing the old ones)."""

    tags: list[str]


UPLOAD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary"}},
}


def _check_length(request: HttpRequest) -> None:
    """Refuse an oversized body before Django reads it into temporary files."""
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > settings.MAX_UPLOAD_MB * 1024 * 1024 + 64 * 1024:
        raise ApiError(
            413,
            "request_too_large",
            f"The upload is larger than the {settings.MAX_UPLOAD_MB} MB limit.",
        )


router = Router(tags=["documents"])


@router.get(
    "documents",
    url_name="api-documents",
    summary="List the workspace's documents",
    response={200: DocumentList, **errors(401, 404)},
    openapi_extra=WORKSPACE,
)
def documents_list(request: HttpRequest) -> DocumentList:
    """The workspace's documents."""
    workspace = selectors.workspace_for_request(request)
    rows = selectors.document_list_for_user(user=request.user, workspace=workspace)
    return DocumentList(documents=[DocumentOut.of(d) for d in rows])


@router.post(
    "documents",
    url_name="api-documents",
    summary="Upload a file, or add a web page by URL",
    description=(
        'Send JSON {"url"} to fetch a web page as a document; or send '
        "multipart/form-data with the file in field 'file' to upload one "
        "(PDF, text, Markdown, HTML, DOCX...). Ingestion runs in the background: "
        "poll GET /api/v1/documents/{document_id} until status is ready."
    ),
    response={
        200: DocumentCreated,
        201: DocumentCreated,
        **errors(400, 401, 403, 404, 413, 415),
    },
    openapi_extra=WORKSPACE
    | {
        # One body in either media type: ninja declares one, so both are written.
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": UrlDocumentIn.model_json_schema()},
                "multipart/form-data": {"schema": UPLOAD_SCHEMA},
            },
        },
        "responses": {
            200: {"description": "Already there (same content)."},
            201: {"description": "Queued for ingestion."},
        },
    },
)
def documents_add(request: HttpRequest) -> Status[DocumentCreated]:
    """Upload a file ('file'), or add a web page from JSON {"url"}."""
    workspace = selectors.workspace_for_request(request)
    require_role(user=request.user, workspace=workspace, role=EDITOR)
    if request.content_type == "application/json":
        # A refused URL answers with the web fetcher's codes (documents/remote/web),
        # where a malformed one is invalid_input, whichever check refuses it.
        body = parse_body(
            request, UrlDocumentIn, error_type=INVALID_INPUT, max_bytes=16 * 1024
        )
        created = _document_from_url(request, workspace, body.url)
    else:
        created = _document_from_upload(request, workspace)
    document = selectors.document_get_for_user(
        user=request.user, document_id=created.document.id
    )
    answer = DocumentCreated.of(document, duplicate=created.duplicate)
    return Status(200 if created.duplicate else 201, answer)


def _document_from_upload(
    request: HttpRequest, workspace: Workspace
) -> services.Created:
    """Store an uploaded file and queue its ingestion."""
    _check_length(request)
    upload = request.FILES.get("file")
    if upload is None:
        raise ApiError(
            400, "invalid_request", "Send the file as multipart field 'file'."
        )
    try:
        return services.document_create(
            workspace=workspace, uploader=request.user, upload=upload
        )
    except services.UploadRejected as exc:
        kind = {413: "request_too_large", 415: "unsupported_media_type"}
        raise ApiError(
            exc.status, kind.get(exc.status, "invalid_request"), str(exc)
        ) from exc


def _document_from_url(
    request: HttpRequest, workspace: Workspace, url: str
) -> services.Created:
    """Queue a URL document; refusals answer 400 with the web fetch error code."""
    try:
        return web_documents.document_create_from_url(
            workspace=workspace, uploader=request.user, url=url
        )
    except WebError as exc:
        raise ApiError(400, exc.code, exc.message) from exc


@router.get(
    "documents/{document_id}",
    url_name="api-document",
    summary="One document",
    response={200: DocumentOut, **errors(401, 404)},
)
def document_get(request: HttpRequest, document_id: str) -> DocumentOut:
    """One document."""
    return DocumentOut.of(
        selectors.document_get_for_user(user=request.user, document_id=document_id)
    )


@router.patch(
    "documents/{document_id}",
    url_name="api-document",
    summary="Replace a document's tags",
    response={200: DocumentOut, **errors(400, 401, 403, 404)},
)
def document_retag(request: HttpRequest, document_id: str, body: TagsIn) -> DocumentOut:
    """Replace a document's tags."""
    document = selectors.document_get_for_user(
        user=request.user, document_id=document_id
    )
    require_role(user=request.user, workspace=document.workspace, role=EDITOR)
    try:
        tags = services.parse_tags(body.tags)
    except services.TagsRejected as exc:
        raise ApiError(400, "invalid_request", str(exc)) from exc
    services.document_set_tags(document=document, tags=tags)
    return DocumentOut.of(document)


@router.delete(
    "documents/{document_id}",
    url_name="api-document",
    summary="Delete a document, its chunks and its uploaded file",
    response={204: None, **errors(401, 403, 404)},
)
def document_remove(request: HttpRequest, document_id: str) -> HttpResponse:
    """Delete a document with its chunks and its remote file."""
    document = selectors.document_get_for_user(
        user=request.user, document_id=document_id
    )
    require_role(user=request.user, workspace=document.workspace, role=EDITOR)
    services.document_delete(document=document)
    return HttpResponse(status=204)


@router.get(
    "documents/{document_id}/text",
    url_name="api-document-text",
    summary="A document's extracted text",
    description="What chunk and citation offsets (start_char, end_char) index.",
    response={200: None, **errors(401, 404)},
    openapi_extra={
        "responses": {200: {"content": {"text/plain": {"schema": {"type": "string"}}}}}
    },
)
def document_text(request: HttpRequest, document_id: str) -> HttpResponse:
    """The extracted text that chunk offsets and citations index into."""
    document = selectors.document_get_for_user(
        user=request.user, document_id=document_id, with_text=True
    )
    return HttpResponse(document.text, content_type="text/plain; charset=utf-8")
