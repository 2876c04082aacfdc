"""Pages for documents: list with live status, upload, view, retry, delete; health."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    QueryDict,
)
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from documents import display, page_images, selectors, services
from documents.ingestion import extraction
from documents.models import Document
from documents.teams.permissions import EDITOR, has_role, require_role, role_required


@login_required
@require_GET
def document_list(request: HttpRequest) -> HttpResponse:
    """The workspace's documents, a page at a time, and the upload forms."""
    workspace = selectors.workspace_for_request(request)
    query = selectors.document_query_from(request.GET)
    matches = selectors.document_search_for_user(
        user=request.user, workspace=workspace, query=query
    )
    page = Paginator(matches, selectors.PER_PAGE).get_page(request.GET.get("page"))
    documents = selectors.with_chunk_counts(list(page.object_list))
    return render(
        request,
        "documents/list.html",
        {
            "workspace": workspace,
            "page": page,
            "documents": documents,
            "query": query,
            "sorts": selectors.SORTS,
            "statuses": Document.Status.values,
            "types": display.TYPE_FILTERS,
            "tags": selectors.tags_for_workspace(workspace=workspace),
            "can_edit": has_role(user=request.user, workspace=workspace, role=EDITOR),
            "supported": extraction.SUPPORTED_DESCRIPTION,
            "now": timezone.now(),
            "list_query": request.GET.urlencode(),
        },
    )


# Rows changed this long before the last poll are sent again: a row written
# in a transaction that commits after the poll carries an earlier timestamp.
POLL_OVERLAP = timedelta(seconds=5)
MAX_POLLED = 200


@login_required
@require_GET
def document_status(request: HttpRequest) -> JsonResponse:
    """Rows of the list that changed since the last poll, rendered, and arrivals.

    The page sends the ids it shows and the `now` of the previous answer;
    only rows changed since then come back, as HTML from the same template
    the page used. Without ids, the first page of the list.
    """
    workspace = selectors.workspace_for_request(request)
    since = _since(request.GET.get("since", ""))
    ids = [i for i in request.GET.get("ids", "").split(",") if i][:MAX_POLLED]
    now = timezone.now()
    if ids:
        rows = selectors.documents_changed_since(
            user=request.user,
            workspace=workspace,
            ids=ids,
            since=(since - POLL_OVERLAP) if since else now - timedelta(days=36500),
        )
    else:
        first = selectors.document_search_for_user(
            user=request.user, workspace=workspace, query=selectors.DocumentQuery()
        )
        rows = selectors.with_chunk_counts(list(first[: selectors.PER_PAGE]))
    can_edit = has_role(user=request.user, workspace=workspace, role=EDITOR)
    context = {
        "can_edit": can_edit,
        "list_query": QueryDict(request.GET.get("list", "")).urlencode(),
    }
    return JsonResponse(
        {
            "now": now.isoformat(),
            "added": selectors.documents_added_since(workspace=workspace, since=since)
            if since
            else 0,
            "documents": [_row_json(request, d, context) for d in rows],
        }
    )


def _since(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def _row_json(
    request: HttpRequest, document: Document, context: dict[str, Any]
) -> dict[str, Any]:
    failed = display.failure(document)
    return {
        "id": str(document.id),
        "version": document.updated.isoformat(),
        "title": document.title,
        "status": document.status,
        "progress": document.progress,
        "stage": document.stage,
        "chunk_count": getattr(document, "chunk_count", None),
        "error": failed.message if failed else "",
        "retryable": bool(failed and failed.retryable),
        "html": render_to_string(
            "documents/_row.html",
            {"document": document, **context},
            request=request,
        ),
    }


@login_required
@require_POST
@role_required(EDITOR)
def document_upload(request: HttpRequest) -> HttpResponse:
    """Accept one or several files; sum up their outcomes in one message."""
    workspace = selectors.workspace_for_request(request)
    files = request.FILES.getlist("files")
    if not files:
        messages.error(request, "Choose at least one file to upload.")
        return redirect("documents:list")
    batch = display.Batch()
    for upload in files:
        try:
            created = services.document_create(
                workspace=workspace, uploader=request.user, upload=upload
            )
        except services.UploadRejected as exc:
            batch.refused.append(str(exc))
            continue
        if created.duplicate:
            name = f"{upload.name} (already here as “{created.document.title}”)"
        else:
            name = created.document.original_name
        batch.add(created, name)
    display.batch_message(request, batch)
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
            "ocr": index + 1 in (document.ocr_pages or []),
            "unreadable": index + 1 in (document.unreadable_pages or []),
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
    """One page of a PDF (or an image document, page 1) as PNG, for the side panel."""
    document = selectors.document_get_for_user(
        user=request.user, document_id=document_id
    )
    if not document.sends_original:
        raise Http404("Only PDFs and images have pages.")
    # Only pages extraction counted: a PDF that failed its bounds is not drawn.
    if not document.pages or not 1 <= number <= document.pages:
        raise Http404("No such page.")
    return _png(lambda: page_images.page_image(document=document, number=number))


def _png(render: Callable[[], bytes]) -> HttpResponse:
    """A rendered PNG, privately cached; 422 with the reason when it cannot be drawn."""
    try:
        png = render()
    except extraction.ExtractionError as exc:
        return HttpResponse(str(exc), status=422, content_type="text/plain")
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
@require_GET
def document_thumbnail(request: HttpRequest, document_id: str) -> HttpResponse:
    """An image document's thumbnail (THUMBNAIL_PX), for its page and the answer."""
    document = selectors.document_get_for_user(
        user=request.user, document_id=document_id
    )
    if not document.is_image:
        raise Http404("Only images have thumbnails.")
    return _png(lambda: page_images.thumbnail(document=document))


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
    """Queue a failed document again, if a retry can help it."""
    document = _document_for_editor(request, document_id)
    failed = display.failure(document)
    if failed is not None and not failed.retryable:
        # The same bytes or the same refused URL would fail the same way.
        messages.error(request, f"{document.title}: {failed.message}")
    else:
        services.document_retry(document=document)
        messages.success(request, f"{document.title} is queued again.")
    return _back_to_list(request)


@login_required
@require_POST
def document_delete(request: HttpRequest, document_id: str) -> HttpResponse:
    """Delete a document with its chunks and remote file."""
    document = _document_for_editor(request, document_id)
    services.document_delete(document=document)
    messages.success(request, f"{document.title} was deleted.")
    return _back_to_list(request)


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


def _back_to_list(request: HttpRequest) -> HttpResponse:
    """Back to the list page the form was on (its filters and page kept)."""
    # Re-encoded, so nothing but a query string of the list can come through.
    query = QueryDict(request.POST.get("list_query", "")).urlencode()
    target = reverse("documents:list")
    return redirect(f"{target}?{query}" if query else target)


def _document_for_editor(request: HttpRequest, document_id: str) -> Document:
    """A document the user can see (else 404) and edit (else 403)."""
    document = selectors.document_get_for_user(
        user=request.user, document_id=document_id
    )
    require_role(user=request.user, workspace=document.workspace, role=EDITOR)
    return document
