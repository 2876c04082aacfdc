"""Admin for workspaces, documents and API tokens."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from documents import services
from documents.forms import WorkspaceWebForm
from documents.ingestion import spaces
from documents.models import (
    ApiToken,
    Document,
    EmbeddingSpace,
    IntranetSourceChange,
    Invitation,
    Membership,
    RemoteFileTombstone,
    ServicePause,
    Workspace,
)
from documents.web import settings as web_settings


class MembershipInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class WorkspaceAdminForm(WorkspaceWebForm):
    """The web settings form with the workspace's name, same validation."""

    class Meta(WorkspaceWebForm.Meta):
        fields = ["name", *WorkspaceWebForm.Meta.fields]


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = WorkspaceAdminForm
    list_display = ["name", "web_fetch_enabled", "intranet_sources", "created"]
    search_fields = ["name"]
    inlines = [MembershipInline]

    def save_model(
        self, request: HttpRequest, obj: Workspace, form: Any, change: bool
    ) -> None:
        # The intranet list opens internal addresses: every change is audited,
        # whether made on Web settings or here.
        before = list(
            Workspace.objects.filter(pk=obj.pk)
            .values_list("intranet_sources", flat=True)
            .first()
            or []
        )
        super().save_model(request, obj, form, change)
        web_settings.intranet_changes_record(
            workspace=obj,
            before=before,
            after=list(obj.intranet_sources or []),
            user=request.user,
            via=web_settings.ADMIN,
        )


@admin.register(IntranetSourceChange)
class IntranetSourceChangeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Who allowed or removed which intranet host or network, and when."""

    list_display = ["created", "workspace", "username", "action", "entry", "via"]
    list_filter = ["action", "via", "workspace"]
    search_fields = ["entry", "username"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "title",
        "workspace",
        "status",
        "stage",
        "progress",
        "mime_type",
        "pages",
        "chunk_count",
        "file_id",
        "expires_at",
        "size",
        "created",
    ]
    list_filter = ["status", "failure_kind", "mime_type", "workspace", "stage"]
    search_fields = ["title", "original_name", "sha256", "file_id", "source_url"]
    readonly_fields = [
        "id",
        "sha256",
        "size",
        "mime_type",
        "file_id",
        "expires_at",
        "files_api_note",
        "embedding_model",
        "pages",
        "failure_kind",
        "error",
        "attempts",
        "ingested",
        "created",
        "updated",
    ]
    exclude = ["text", "page_starts"]
    actions = ["retry_ingestion", "reembed", "delete_with_remote_file"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A document comes from an upload or a URL, which store and queue it;
        # a bare row made here would have no file and never be ingested.
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Document]:
        queryset: QuerySet[Document] = super().get_queryset(request)
        return queryset.annotate(chunk_total=Count("chunks"))

    @admin.display(ordering="chunk_total", description="chunks")
    def chunk_count(self, obj: Any) -> int:
        return int(obj.chunk_total)

    @admin.action(description="Retry ingestion of the selected documents")
    def retry_ingestion(
        self, request: HttpRequest, queryset: QuerySet[Document]
    ) -> None:
        for document in queryset:
            services.document_retry(document=document)
        self.message_user(request, f"{queryset.count()} queued.", messages.SUCCESS)

    @admin.action(description="Re-embed: re-run ingestion with the current model")
    def reembed(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        # A full run re-chunks and re-embeds in every live embedding space; the
        # pipeline keeps an existing Files API upload.
        ready = queryset.exclude(
            status__in=[Document.Status.QUEUED, Document.Status.PROCESSING]
        )
        count = 0
        for document in ready:
            services.document_retry(document=document)
            count += 1
        self.message_user(request, f"{count} queued to re-embed.", messages.SUCCESS)

    @admin.action(description="Delete the selected documents and their remote files")
    def delete_with_remote_file(
        self, request: HttpRequest, queryset: QuerySet[Document]
    ) -> None:
        count = 0
        for document in queryset:
            services.document_delete(document=document)
            count += 1
        self.message_user(request, f"{count} deleted.", messages.SUCCESS)

    def delete_model(self, request: HttpRequest, obj: Document) -> None:
        services.document_delete(document=obj)

    def delete_queryset(
        self, request: HttpRequest, queryset: QuerySet[Document]
    ) -> None:
        for document in queryset:
            services.document_delete(document=document)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["user", "name", "prefix", "created", "last_used", "revoked"]
    readonly_fields = ["prefix", "key_hash", "created", "last_used"]

    # A token is made on the API tokens page (or create_api_token), which shows
    # it once; one added here would have no key. Revoking stays a change.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["email", "workspace", "role", "invited_by", "created", "accepted"]
    list_filter = ["role", "workspace"]
    search_fields = ["email"]
    readonly_fields = ["token", "accepted", "accepted_by", "created"]

    # Invitations are made on the Members page, which makes the link; one added
    # here would have no token to open.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(RemoteFileTombstone)
class RemoteFileTombstoneAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["file_id", "reason", "attempts", "next_attempt", "last_error"]
    readonly_fields = ["file_id", "reason", "attempts", "last_error", "created"]

    # Cairn records what it owes the Files API; an added one would name no file.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ServicePause)
class ServicePauseAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Deleting the pause resumes uploads once an admin has freed space."""

    list_display = ["service", "until", "reason"]


_SPACE_FIELDS = (
    "name",
    "status",
    "progress",
    "created",
    "activated",
    "retired",
    "purged",
    "error",
)


@admin.register(EmbeddingSpace)
class EmbeddingSpaceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Embedding spaces and the progress of a switch; settings choose the space."""

    list_display = _SPACE_FIELDS
    readonly_fields = _SPACE_FIELDS
    fields = _SPACE_FIELDS
    actions = ["reconcile"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="vectors / chunks")
    def progress(self, obj: EmbeddingSpace) -> str:
        if obj.purged:
            return "purged"
        done, total = spaces.space_progress(obj)
        percent = 100 * done // total if total else 100
        return f"{done} / {total} ({percent}%)"

    @admin.action(description="Switch to the configured model and dimensions now")
    def reconcile(
        self, request: HttpRequest, queryset: QuerySet[EmbeddingSpace]
    ) -> None:
        summary = spaces.spaces_reconcile()
        message = (
            f"building {summary['building']}; search uses {summary['active']} "
            "until it is complete"
            if summary["building"]
            else f"{summary['active']} is the configured space; nothing to build"
        )
        self.message_user(request, message, messages.SUCCESS)
