"""Cairn's URLs: pages, the REST API under /api/v1/, the admin and health."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect
from django.urls import include, path

from documents import api as documents_api
from documents import views as documents_views
from project import console, openapi
from search import api as search_api

api_v1 = [
    path("documents", documents_api.documents, name="api-documents"),
    path(
        "documents/<str:document_id>",
        documents_api.document_detail,
        name="api-document",
    ),
    path(
        "documents/<str:document_id>/text",
        documents_api.document_text,
        name="api-document-text",
    ),
    path("search", search_api.search, name="api-search"),
    path("ask", search_api.ask, name="api-ask"),
    path("answers/<str:code>", search_api.answer_detail, name="api-answer"),
    path(
        "answers/<str:code>/feedback",
        search_api.answer_feedback,
        name="api-answer-feedback",
    ),
    path("conversations", search_api.conversations, name="api-conversations"),
    # The API's own description: public, not operations of the API itself.
    path("openapi.json", openapi.openapi_json, name="api-openapi"),
    path("docs", openapi.docs_page, name="api-docs"),
]

urlpatterns = [
    path("", lambda request: redirect("documents:list"), name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("documents/", include("documents.urls")),
    path("ask/", include("search.urls")),
    path("", include("documents.teams.urls")),
    path("api/v1/", include(api_v1)),
    path("healthz", documents_views.healthz, name="healthz"),
    path("admin/cairn/", include(console.urls())),
    path("admin/", admin.site.urls),
]
