"""Pages for documents: list with live status, upload, view, retry, delete; health."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from documents import page_images, selectors, services
from documents.api import DocumentList, DocumentOut
from documents.ingestion import extraction
from documents.models import Document
from documents.teams.permissions import EDITOR, has_role, require_role, role_required


@login_required
@require_GET
def document_list(request: HttpRequest) -> HttpResponse:
    """The workspace's documents with live status, and the upload form."""
    workspace = selectors.workspace_for_request(request)
    rows = selectors.document_list_for_user(user=request.user, workspace=workspace)
    can_edit = has_role(user=request.user, workspace=workspace, role=EDITOR)
    return render(
        request,
        "documents/list.html",
        {"workspace": workspace, "documents": rows, "can_edit": can_edit},
    )


@login_required
@require_GET
def document_status(request: HttpRequest) -> JsonResponse:
    """Status of every document in the workspace, for the list's live updates."""
    workspace = selectors.workspace_for_request(request)
    rows = selectors.document_list_for_user(user=request.user, workspace=workspace)
    body = DocumentList(documents=[DocumentOut.of(d) for d in rows])
    return JsonResponse(body.model_dump())


@login_required
@require_POST
@role_required(EDITOR)
def document_upload(request: HttpRequest) -> HttpResponse:
    """Accept one or several files; report each one's outcome."""
    workspace = selectors.workspace_for_request(request)
    files = request.FILES.getlist("files")
    if not files:
        messages.error(request, "Choose at least one file to upload.")
    for upload in files:
        try:
            created = services.document_create(
                workspace=workspace, uploader=request.user, upload=upload
            )
        except services.UploadRejected as exc:
            messages.error(request, str(exc))
            continue
        if created.duplicate:
            messages.warning(
                request,
                f"{upload.name} is already in this workspace as "
                f"“{created.document.title}”; it was not ingested again.",
            )
        else:
            messages.success(request, f"{created.document.original_name} is queued.")
    return redirect("documents:list")


def _sections(
    document: Any, start: int | None, end: int | None
) -> list[dict[str, Any]]:
    """The text cut into pages, each split around the highlighted range."""
    text = document.text
    bounds = document.page_starts or [0]
    sections = []
    for index, page_start in enumerate(bounds):
        page_end = bounds[index + 1] if index + 1 < len(bounds) else len(text)
        section: dict[str, Any] = {
            "number": index + 1 if document.page_starts else None,
            "before": text[page_start:page_end],
            "mark": "",
            "after": "",
        }
        if (
            start is not None
            and end is not None
            and start < page_end
            and end > page_start
        ):
            left, right = max(start, page_start), min(end, page_end)
            section["before"] = text[page_start:left]
            section["mark"] = text[left:right]
            section["after"] = text[right:page_end]
        sections.append(section)
    return sections


def _int_param(request: HttpRequest, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() else None


@login_required
@require_GET
def document_detail(request: HttpRequest, document_id: str) -> HttpResponse:
    """The extracted text, by page, with a cited passage highlighted."""
    document = selectors.document_get_for_user(
        user=request.user, document_id=document_id, with_text=True
    )
    can_edit = has_role(user=request.user, workspace=document.workspace, role=EDITOR)
    start, end = _int_param(request, "start"), _int_param(request, "end")
    page = _int_param(request, "page")
    if start is not None and (end is None or end <= start):
        start = end = None
    if start is None and page is not None and document.page_starts:
        page = min(max(page, 1), len(document.page_starts))
    return render(
        request,
        "documents/detail.html",
        {
            "document": document,
            "sections": _sections(document, start, end),
            "highlighted": start is not None,
            "focus_page": page,
            "can_edit": can_edit,
        },
    )


@login_required
@require_GET
def document_page_png(
    request: HttpRequest, document_id: str, number: int
) -> HttpResponse:
    """One page of a PDF rendered to PNG, for the citation side panel."""
    document = selectors.document_get_for_user(
        user=request.user, document_id=document_id
    )
    if not document.is_pdf:
        raise Http404("Only PDFs have pages.")
    # Only pages extraction counted: a PDF that failed its bounds is not drawn.
    if not document.pages or not 1 <= number <= document.pages:
        raise Http404("No such page.")
    try:
        png = page_images.page_image(document=document, number=number)
    except extraction.ExtractionError as exc:
        return HttpResponse(str(exc), status=422, content_type="text/plain")
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
@require_GET
def document_original(request: HttpRequest, document_id: str) -> FileResponse:
    """Download the original file, never rendered inline."""
    document = selectors.document_get_for_user(
        user=request.user, document_id=document_id
    )
    return FileResponse(
        document.original.open("rb"),
        as_attachment=True,
        filename=document.original_name,
        content_type="application/octet-stream",
    )


@login_required
@require_POST
def document_retry(request: HttpRequest, document_id: str) -> HttpResponse:
    """Queue a failed document again."""
    document = _document_for_editor(request, document_id)
    services.document_retry(document=document)
    messages.success(request, f"{document.title} is queued again.")
    return redirect("documents:list")


@login_required
@require_POST
def document_delete(request: HttpRequest, document_id: str) -> HttpResponse:
    """Delete a document with its chunks and remote file."""
    document = _document_for_editor(request, document_id)
    services.document_delete(document=document)
    messages.success(request, f"{document.title} was deleted.")
    return redirect("documents:list")


@login_required
@require_POST
def document_tags(request: HttpRequest, document_id: str) -> HttpResponse:
    """Replace a document's tags (comma-separated)."""
    document = _document_for_editor(request, document_id)
    try:
        tags = services.parse_tags(request.POST.get("tags", ""))
    except services.TagsRejected as exc:
        messages.error(request, str(exc))
    else:
        services.document_set_tags(document=document, tags=tags)
        messages.success(request, "Tags saved.")
    return redirect("documents:detail", document_id=document.id)


def _document_for_editor(request: HttpRequest, document_id: str) -> Document:
    """A document the user can see (else 404) and edit (else 403)."""
    document = selectors.document_get_for_user(
        user=request.user, document_id=document_id
    )
    require_role(user=request.user, workspace=document.workspace, role=EDITOR)
    return document
