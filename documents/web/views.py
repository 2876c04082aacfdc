"""Pages for the web as a source: add URLs, refresh them, workspace web settings."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from documents import display, selectors
from documents.forms import WorkspaceWebForm
from documents.remote.web import WebError
from documents.teams.permissions import ADMIN, EDITOR, require_role
from documents.web import documents as web_documents
from documents.web import settings as web_settings

MAX_URLS_PER_POST = 20


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}
    ):
        return redirect(target)
    return redirect("documents:list")


@login_required
@require_POST
def document_add_urls(request: HttpRequest) -> HttpResponse:
    """Queue one URL per line; sum up their outcomes in one banner."""
    workspace = selectors.workspace_for_request(request)
    require_role(user=request.user, workspace=workspace, role=EDITOR)
    urls = [line.strip() for line in request.POST.get("urls", "").splitlines()]
    urls = [url for url in urls if url]
    if not urls:
        messages.error(request, "Paste at least one URL.")
        return _back(request)
    if len(urls) > MAX_URLS_PER_POST:
        messages.error(request, f"Add at most {MAX_URLS_PER_POST} URLs at a time.")
        return _back(request)
    batch = display.Batch(noun="URLs", next_step="queued for fetching")
    for url in urls:
        try:
            created = web_documents.document_create_from_url(
                workspace=workspace, uploader=request.user, url=url
            )
        except WebError as exc:
            batch.refused.append(f"{url[:100]}: {exc}.")
            continue
        name = f"{url} (already here; use Refresh)" if created.duplicate else url
        batch.add(created, name)
    display.batch_message(request, batch)
    return _back(request)


@login_required
@require_POST
def document_refresh(request: HttpRequest, document_id: str) -> HttpResponse:
    """Re-fetch a URL document; it is re-ingested only if the page changed."""
    document = selectors.document_get_for_user(
        user=request.user, document_id=document_id
    )
    require_role(user=request.user, workspace=document.workspace, role=EDITOR)
    if not document.source_url:
        messages.error(request, f"{document.title} was uploaded, not added by URL.")
    else:
        web_documents.document_refresh(document=document)
        messages.success(request, f"{document.title} will be re-fetched.")
    return redirect("documents:list")


@login_required
def workspace_settings(request: HttpRequest) -> HttpResponse:
    """The workspace's web settings; only its admins may see or change them."""
    workspace = selectors.workspace_for_request(request)
    require_role(user=request.user, workspace=workspace, role=ADMIN)
    form = WorkspaceWebForm(request.POST or None, instance=workspace)
    if request.method == "POST" and form.is_valid():
        web_settings.workspace_web_settings_save(
            workspace=workspace, form=form, user=request.user
        )
        messages.success(request, "Web settings saved.")
        return redirect("documents:settings")
    return render(
        request, "documents/settings.html", {"workspace": workspace, "form": form}
    )
