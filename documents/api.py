"""REST API for documents: upload, list, detail, text, delete."""

from __future__ import annotations

from typing import Any, ClassVar, Self

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from pydantic import BaseModel, Field

from documents import selectors, services
from documents.api_auth import ApiError, api_view
from documents.models import Document, Workspace
from documents.remote.web import INVALID_INPUT, WebError
from documents.teams.permissions import EDITOR, require_role
from documents.web import documents as web_documents
from project.api_spec import (
    FORBIDDEN,
    INVALID,
    NOT_FOUND,
    UNAUTHENTICATED,
    RequestBody,
    Response,
    error,
    operation,
)


class DocumentOut(BaseModel):
    """A document and where its ingestion stands."""

    id: str = Field(description="UUID")
    title: str
    filename: str
    status: str = Field(description="queued | processing | ready | failed")
    stage: str
    progress: int = Field(description="0-100")
    error: str | None
    file_id: str | None = Field(description="Anthropic Files API id, if uploaded")
    files_api_note: str | None
    pages: int | None
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
        return cls(
            id=str(document.id),
            title=document.title,
            filename=document.original_name,
            status=document.status,
            stage=document.stage,
            progress=document.progress,
            error=document.error or None,
            file_id=document.file_id or None,
            files_api_note=document.files_api_note or None,
            pages=document.pages,
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

    # A refused URL answers with the web fetcher's codes (documents/remote/web.py),
    # where a malformed one is invalid_input, whichever check refuses it.
    error_type: ClassVar[str] = INVALID_INPUT
    max_bytes: ClassVar[int | None] = 16 * 1024

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


@operation(
    "GET",
    "List the workspace's documents",
    tag="documents",
    workspace=True,
    responses={200: Response("The documents.", DocumentList), 401: UNAUTHENTICATED},
)
def documents_list(request: HttpRequest) -> DocumentList:
    """The workspace's documents."""
    workspace = selectors.workspace_for_request(request)
    rows = selectors.document_list_for_user(user=request.user, workspace=workspace)
    return DocumentList(documents=[DocumentOut.of(d) for d in rows])


@operation(
    "POST",
    "Upload a file, or add a web page by URL",
    description=(
        'Send JSON {"url"} to fetch a web page as a document; or send '
        "multipart/form-data with the file in field 'file' to upload one "
        "(PDF, text, Markdown, HTML, DOCX...). Ingestion runs in the background: "
        "poll GET /api/v1/documents/{document_id} until status is ready."
    ),
    tag="documents",
    workspace=True,
    request=UrlDocumentIn,
    request_alternatives={"multipart/form-data": UPLOAD_SCHEMA},
    responses={
        200: Response("Already there (same content).", DocumentCreated),
        201: Response("Queued for ingestion.", DocumentCreated),
        400: INVALID,
        401: UNAUTHENTICATED,
        403: FORBIDDEN,
        404: NOT_FOUND,
        413: error("The upload is larger than the limit."),
        415: error("The file type is not supported."),
    },
)
def documents_add(
    request: HttpRequest, body: UrlDocumentIn | None
) -> tuple[int, DocumentCreated]:
    """Upload a file ('file'), or add a web page from JSON {"url"}."""
    workspace = selectors.workspace_for_request(request)
    require_role(user=request.user, workspace=workspace, role=EDITOR)
    if body is not None:
        created = _document_from_url(request, workspace, body.url)
    else:
        created = _document_from_upload(request, workspace)
    document = selectors.document_get_for_user(
        user=request.user, document_id=created.document.id
    )
    answer = DocumentCreated.of(document, duplicate=created.duplicate)
    return (200 if created.duplicate else 201), answer


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


@operation(
    "GET",
    "One document",
    tag="documents",
    responses={
        200: Response("The document.", DocumentOut),
        401: UNAUTHENTICATED,
        404: NOT_FOUND,
    },
)
def document_get(request: HttpRequest, document_id: str) -> DocumentOut:
    """One document."""
    return DocumentOut.of(
        selectors.document_get_for_user(user=request.user, document_id=document_id)
    )


@operation(
    "PATCH",
    "Replace a document's tags",
    tag="documents",
    request=TagsIn,
    responses={
        200: Response("The document with its new tags.", DocumentOut),
        400: INVALID,
        401: UNAUTHENTICATED,
        403: FORBIDDEN,
        404: NOT_FOUND,
    },
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


@operation(
    "DELETE",
    "Delete a document, its chunks and its uploaded file",
    tag="documents",
    responses={
        204: Response("Deleted."),
        401: UNAUTHENTICATED,
        403: FORBIDDEN,
        404: NOT_FOUND,
    },
)
def document_remove(request: HttpRequest, document_id: str) -> HttpResponse:
    """Delete a document with its chunks and its remote file."""
    document = selectors.document_get_for_user(
        user=request.user, document_id=document_id
    )
    require_role(user=request.user, workspace=document.workspace, role=EDITOR)
    services.document_delete(document=document)
    return HttpResponse(status=204)


# The paths of project/api_urls.py, each serving its methods' endpoints.
documents = api_view(documents_list, documents_add)
document_detail = api_view(document_get, document_retag, document_remove)


@api_view
@operation(
    "GET",
    "A document's extracted text",
    description="What chunk and citation offsets (start_char, end_char) index.",
    tag="documents",
    responses={
        200: Response(
            "The text.", content_type="text/plain", schema={"type": "string"}
        ),
        401: UNAUTHENTICATED,
        404: NOT_FOUND,
    },
)
def document_text(request: HttpRequest, document_id: str) -> HttpResponse:
    """The extracted text that chunk offsets and citations index into."""
    document = selectors.document_get_for_user(
        user=request.user, document_id=document_id, with_text=True
    )
    return HttpResponse(document.text, content_type="text/plain; charset=utf-8")
