"""The REST API's operations under /api/v1/; project/urls.py adds its description."""

from __future__ import annotations

from django.urls import path

from documents import api as documents_api
from search import api as search_api

operations = [
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
]
