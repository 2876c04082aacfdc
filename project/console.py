"""Admin console pages beyond model lists: ingestion health and usage."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from documents.health import ingestion_health
from documents.models import Document
from documents.remote import files_api
from documents.remote.files import files_reconcile
from search import claude, usage


def health(request: HttpRequest) -> HttpResponse:
    """Modes, counts by status, queues and workers, stuck and failed documents."""
    context: dict[str, Any] = admin.site.each_context(request)
    context |= {"title": "Ingestion health"} | ingestion_health()
    context["claude_model"] = claude.model()
    if files_api.online():
        context["model_status"] = claude.model_status()
    return TemplateResponse(request, "admin/cairn/health.html", context)


def usage_page(request: HttpRequest) -> HttpResponse:
    """Tokens and estimated cost per day, workspace and user, with a chart."""
    days = request.GET.get("days", "30")
    span = int(days) if days.isdigit() and 1 <= int(days) <= 366 else 30
    by_day = usage.usage_by("day", days=span)
    context: dict[str, Any] = admin.site.each_context(request)
    context |= {
        "title": f"Usage, last {span} days",
        "days": span,
        "by_day": by_day,
        "by_workspace": usage.usage_by("workspace", days=span),
        "by_user": usage.usage_by("user", days=span),
        "bars": usage.chart_bars(by_day),
        "total_cost": sum(row.cost for row in by_day),
        "total_answers": sum(row.answers for row in by_day),
        "total_offline": sum(row.offline for row in by_day),
    }
    return TemplateResponse(request, "admin/cairn/usage.html", context)


def files(request: HttpRequest) -> HttpResponse:
    """The Files API reconcile report; a POST fixes what it found."""
    context: dict[str, Any] = admin.site.each_context(request)
    context["title"] = "Files API reconcile"
    if not files_api.online():
        context["offline"] = True
        return TemplateResponse(request, "admin/cairn/files.html", context)
    fix = request.method == "POST"
    try:
        report = files_reconcile(fix=fix)
    except Exception as exc:
        context["error"] = f"The Files API did not answer: {exc}"
        return TemplateResponse(request, "admin/cairn/files.html", context)
    if fix:
        messages.success(request, report.summary())
        return HttpResponseRedirect(request.path)
    context["report"] = report
    context["missing"] = Document.objects.filter(id__in=report.missing).select_related(
        "workspace"
    )
    context["expired"] = Document.objects.filter(id__in=report.expired).select_related(
        "workspace"
    )
    return TemplateResponse(request, "admin/cairn/files.html", context)


def urls() -> list[URLPattern]:
    """The console's URLs, behind the admin's staff login."""
    return [
        path("health/", admin.site.admin_view(health), name="cairn-health"),
        path("usage/", admin.site.admin_view(usage_page), name="cairn-usage"),
        path("files/", admin.site.admin_view(files), name="cairn-files"),
    ]
