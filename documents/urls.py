"""URLs of the document pages."""

from __future__ import annotations

from django.urls import path

from documents import views
from documents.web import views as web_views

app_name = "documents"

urlpatterns = [
    path("", views.document_list, name="list"),
    path("status.json", views.document_status, name="status"),
    path("upload", views.document_upload, name="upload"),
    path("add-urls", web_views.document_add_urls, name="add_urls"),
    path("settings", web_views.workspace_settings, name="settings"),
    path("<uuid:document_id>/refresh", web_views.document_refresh, name="refresh"),
    path("<uuid:document_id>/", views.document_detail, name="detail"),
    path("<uuid:document_id>/original", views.document_original, name="original"),
    path(
        "<uuid:document_id>/pages/<int:number>.png",
        views.document_page_png,
        name="page-png",
    ),
    path(
        "<uuid:document_id>/thumbnail.png",
        views.document_thumbnail,
        name="thumbnail",
    ),
    path("<uuid:document_id>/retry", views.document_retry, name="retry"),
    path("<uuid:document_id>/delete", views.document_delete, name="delete"),
    path("<uuid:document_id>/tags", views.document_tags, name="tags"),
]
