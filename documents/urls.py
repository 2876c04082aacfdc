"""URLs of the document pages."""

from __future__ import annotations

from django.urls import path

from documents import views

app_name = "documents"

urlpatterns = [
    path("", views.document_list, name="list"),
    path("status.json", views.document_status, name="status"),
    path("upload", views.document_upload, name="upload"),
    path("<uuid:document_id>/", views.document_detail, name="detail"),
    path("<uuid:document_id>/original", views.document_original, name="original"),
    path(
        "<uuid:document_id>/pages/<int:number>.png",
        views.document_page_png,
        name="page-png",
    ),
    path("<uuid:document_id>/retry", views.document_retry, name="retry"),
    path("<uuid:document_id>/delete", views.document_delete, name="delete"),
]
