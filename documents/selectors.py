"""Reads scoped to what a user may see: every query filters by membership in SQL."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Func, QuerySet
from django.db.models.functions import Lower
from django.http import Http404, HttpRequest

from documents import display
from documents.models import Chunk, Document, Invitation, Membership, Workspace
from documents.services import workspace_default_for_user


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


# The list's sort orders: a name in the URL, the ordering it stands for.
SORTS: dict[str, tuple[Any, ...]] = {
    "newest": ("-created", "-id"),
    "oldest": ("created", "id"),
    "title": (Lower("title"), "id"),
    "updated": ("-updated", "-id"),
}
PER_PAGE = 50


@dataclass(frozen=True)
class DocumentQuery:
    """What the documents list shows: a title search, filters and a sort."""

    q: str = ""
    status: str = ""
    kind: str = ""
    tag: str = ""
    sort: str = "newest"

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.status or self.kind or self.tag)


def document_query_from(params: Any) -> DocumentQuery:
    """Read the list's parameters, dropping values it does not know."""
    status = params.get("status", "")
    kind = params.get("type", "")
    sort = params.get("sort", "")
    return DocumentQuery(
        q=" ".join(params.get("q", "").split())[:200],
        status=status if status in Document.Status.values else "",
        kind=kind if kind in display.TYPE_FILTERS else "",
        tag=params.get("tag", "").strip().lower()[:50],
        sort=sort if sort in SORTS else "newest",
    )


def document_search_for_user(
    *, user: Any, workspace: Workspace, query: DocumentQuery
) -> QuerySet[Document]:
    """A workspace's documents matching a list query, in its order, without text.

    No chunk counts here: counting chunks for every match would read every
    chunk row; chunk_counts() counts them for the page that is shown.
    """
    queryset = Document.objects.filter(
        workspace=workspace, workspace__memberships__user=user
    ).defer("text", "page_starts", "search_text")
    for word in query.q.split():
        queryset = queryset.filter(search_text__contains=word.upper())
    if query.status:
        queryset = queryset.filter(status=query.status)
    if query.kind:
        queryset = queryset.filter(display.type_filter(query.kind))
    if query.tag:
        queryset = queryset.filter(tags__contains=[query.tag])
    return queryset.order_by(*SORTS[query.sort])


def chunk_counts(document_ids: list[Any]) -> dict[Any, int]:
    """How many chunks each of these documents has (absent: none)."""
    rows = (
        Chunk.objects.filter(document_id__in=document_ids)
        .values("document_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["document_id"]: row["n"] for row in rows}


def with_chunk_counts(documents: list[Document]) -> list[Document]:
    """Set chunk_count on each document with one query for all of them."""
    counts = chunk_counts([d.id for d in documents])
    for document in documents:
        document.chunk_count = counts.get(document.id, 0)  # type: ignore[attr-defined]
    return documents


def documents_changed_since(
    *, user: Any, workspace: Workspace, ids: list[str], since: datetime
) -> list[Document]:
    """Those of the given documents changed at or after `since`, with chunk counts."""
    valid = [i for i in ids if _is_uuid(i)]
    changed = (
        Document.objects.filter(
            workspace=workspace,
            workspace__memberships__user=user,
            id__in=valid,
            updated__gte=since,
        )
        .defer("text", "page_starts")
        .order_by()
    )
    return with_chunk_counts(list(changed))


def documents_added_since(*, workspace: Workspace, since: datetime) -> int:
    """How many documents arrived in the workspace at or after `since`."""
    return Document.objects.filter(workspace=workspace, created__gte=since).count()


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


SESSION_KEY = "cairn_workspace"
WORKSPACE_HEADER = "X-Cairn-Workspace"


def workspace_for_request(request: HttpRequest) -> Workspace:
    """The workspace a request acts in; only ever one the user belongs to.

    The API names it by the X-Cairn-Workspace header or a `workspace` parameter
    (the workspace's code); pages keep it in the session. Without either, the
    user's first workspace. Naming a workspace the user is not in is a 404, so
    a stranger cannot tell an existing workspace from a made-up one.
    """
    cached: Workspace | None = getattr(request, "_cairn_workspace", None)
    if cached is not None:
        return cached
    user = request.user
    named = request.headers.get(WORKSPACE_HEADER) or request.GET.get("workspace")
    if named:
        workspace = workspace_by_code_for_user(user=user, code=named)
        if workspace is None:
            raise Http404("No such workspace.")
    else:
        stored = (
            request.session.get(SESSION_KEY) if hasattr(request, "session") else None
        )
        workspace = (
            workspace_by_code_for_user(user=user, code=stored) if stored else None
        )
        if workspace is None:
            workspace = workspace_default_for_user(user=user)
    request._cairn_workspace = workspace  # type: ignore[attr-defined]
    return workspace


def workspace_by_code_for_user(*, user: Any, code: Any) -> Workspace | None:
    """One of the user's workspaces by its code, or None."""
    try:
        return workspaces_for_user(user=user).filter(code=code).first()
    except (ValidationError, ValueError, TypeError):
        return None


def memberships_for_workspace(*, workspace: Workspace) -> QuerySet[Membership]:
    """A workspace's members with their users, admins first."""
    return (
        Membership.objects.filter(workspace=workspace)
        .select_related("user")
        .order_by("role", "user__username")
    )


def invitations_pending(*, workspace: Workspace) -> QuerySet[Invitation]:
    """Invitations to a workspace nobody has accepted yet."""
    return Invitation.objects.filter(workspace=workspace, accepted__isnull=True)


def invitation_by_token(*, token: str) -> Invitation:
    """A pending invitation by its token, or 404."""
    invitation = (
        Invitation.objects.select_related("workspace")
        .filter(token=token, accepted__isnull=True)
        .first()
    )
    if invitation is None:
        raise Http404("This invitation does not exist or was already used.")
    return invitation


def document_ids_for_filter(
    *,
    user: Any,
    workspace: Workspace,
    document_ids: list[str] | None,
    tags: list[str] | None,
) -> list[str] | None:
    """The ids a question is scoped to (None means the whole workspace).

    Ids the user cannot see are dropped rather than reported, so a filter
    never reveals whether another workspace's document exists.
    """
    if not document_ids and not tags:
        return None
    queryset = Document.objects.filter(
        workspace=workspace, workspace__memberships__user=user
    )
    if document_ids:
        valid = [d for d in document_ids if _is_uuid(d)]
        queryset = queryset.filter(id__in=valid)
    if tags:
        queryset = queryset.filter(tags__overlap=tags)
    return [str(pk) for pk in queryset.values_list("id", flat=True)]


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def tags_for_workspace(*, workspace: Workspace) -> list[str]:
    """Every tag used in a workspace, sorted."""
    # order_by() first: the model's default ordering would add `created` to
    # the DISTINCT and return one row per document instead of one per tag.
    rows = (
        Document.objects.filter(workspace=workspace)
        .order_by()
        .annotate(tag=Func("tags", function="unnest"))
        .values_list("tag", flat=True)
        .distinct()
    )
    return sorted(str(tag) for tag in rows)
