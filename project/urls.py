"""Cairn's URLs: pages, the REST API under /api/v1/, the admin and health."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from documents import health
from project import api, console, openapi, scrape

api_v1 = [
    *api.operations,
    # The API's own description: public, not operations of the API itself.
    path("openapi.json", openapi.openapi_json, name="api-openapi"),
    path("docs", openapi.docs_page, name="api-docs"),
]

# A database outage anywhere is a 503; other API errors stay JSON.
handler500 = "project.outage.server_error"

urlpatterns = [
    path("", lambda request: redirect("documents:list"), name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("documents/", include("documents.urls")),
    path("ask/", include("search.urls")),
    path("", include("documents.teams.urls")),
    path("api/v1/", include(api_v1)),
    path("healthz", health.healthz, name="healthz"),
    path("metrics", scrape.metrics_view, name="metrics"),
    # Browsers ask for /favicon.ico before (or without) reading the page's link.
    path(
        "favicon.ico",
        RedirectView.as_view(url=static("img/favicon.svg"), permanent=True),
    ),
    path("admin/cairn/", include(console.urls())),
    path("admin/", admin.site.urls),
]
