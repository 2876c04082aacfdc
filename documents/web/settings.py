"""Writes for a workspace's web settings, with the intranet allow-list audited."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from documents.models import IntranetSourceChange, Workspace

WEB_SETTINGS = "web settings"
ADMIN = "admin"


def intranet_changes_record(
    *, workspace: Workspace, before: list[str], after: list[str], user: Any, via: str
) -> int:
    """Record each entry allowed or removed between two lists; return how many."""
    removed = [entry for entry in before if entry not in after]
    allowed = [entry for entry in after if entry not in before]
    username = user.get_username() if user is not None else ""
    rows = [
        IntranetSourceChange(
            workspace=workspace,
            user=user,
            username=username,
            action=action,
            entry=entry[:100],
            via=via,
        )
        for action, entries in (
            (IntranetSourceChange.Action.REMOVED, removed),
            (IntranetSourceChange.Action.ALLOWED, allowed),
        )
        for entry in entries
    ]
    IntranetSourceChange.objects.bulk_create(rows)
    return len(rows)


def workspace_web_settings_save(
    *, workspace: Workspace, form: Any, user: Any, via: str = WEB_SETTINGS
) -> int:
    """Save a valid web settings form; audit the intranet entries it changed.

    Returns how many intranet entries changed. The workspace row is locked
    while the list is compared, so two admins saving at once each record
    exactly the change they made.
    """
    with transaction.atomic():
        before = list(
            Workspace.objects.select_for_update()
            .values_list("intranet_sources", flat=True)
            .get(pk=workspace.pk)
            or []
        )
        form.save()
        return intranet_changes_record(
            workspace=workspace,
            before=before,
            after=list(workspace.intranet_sources or []),
            user=user,
            via=via,
        )
