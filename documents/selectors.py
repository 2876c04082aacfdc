"""Reads scoped to what a user may see: every query filters by membership in SQL."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import Http404

from documents.models import Document, Workspace


def workspaces_for_user(*, user: Any) -> QuerySet[Workspace]:
    """The workspaces a user belongs to."""
    return Workspace.objects.filter(memberships__user=user)


def document_list_for_user(*, user: Any, workspace: Workspace) -> QuerySet[Document]:
    """A workspace's documents, if the user belongs to it (else none)."""
    return (
        Document.objects.filter(workspace=workspace, workspace__memberships__user=user)
        .annotate(chunk_count=Count("chunks"))
        .defer("text")
        .order_by("-created")
    )


def document_get_for_user(
    *, user: Any, document_id: Any, with_text: bool = False
) -> Document:
    """One document of any workspace the user belongs to, or 404."""
    queryset = Document.objects.filter(workspace__memberships__user=user).annotate(
        chunk_count=Count("chunks")
    )
    if not with_text:
        queryset = queryset.defer("text")
    try:
        return queryset.get(id=document_id)
    except (Document.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such document.") from None
