"""Files API against the database: unused remote files, documents whose file is gone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from documents import files_api, services
from documents.models import Document


@dataclass
class Report:
    """What differs between the Files API and Cairn's documents."""

    remote: int = 0
    linked: int = 0
    # (file_id, filename, created): remote files no document refers to.
    orphans: list[tuple[str, str, datetime]] = field(default_factory=list)
    # Documents whose file_id the Files API no longer has.
    missing: list[Document] = field(default_factory=list)
    # Orphans too young to delete: an ingestion may be saving their id right now.
    recent_orphans: int = 0

    @property
    def clean(self) -> bool:
        return not self.orphans and not self.missing


def files_report() -> Report:
    """Compare the remote file list with the documents' file ids."""
    remote = files_api.list_files()
    remote_ids = {file_id for file_id, _, _ in remote}
    linked = dict(Document.objects.exclude(file_id="").values_list("file_id", "id"))
    grace = timezone.now() - timedelta(minutes=settings.FILES_ORPHAN_GRACE_MINUTES)
    report = Report(remote=len(remote), linked=len(linked))
    for file_id, filename, created in remote:
        if file_id in linked:
            continue
        if created > grace:
            report.recent_orphans += 1
        else:
            report.orphans.append((file_id, filename, created))
    report.missing = list(
        Document.objects.filter(file_id__in=set(linked) - remote_ids)
        .select_related("workspace")
        .defer("text")
    )
    return report


def files_fix(report: Report) -> tuple[int, int]:
    """Delete orphaned remote files; re-queue documents whose file is gone.

    Returns (files deleted, documents re-queued). A re-queued document is
    ingested again, which uploads its file afresh.
    """
    for file_id, _, _ in report.orphans:
        files_api.delete(file_id)
    requeued = 0
    for document in report.missing:
        with transaction.atomic():
            cleared = Document.objects.filter(
                id=document.id, file_id=document.file_id
            ).update(file_id="", files_api_note="remote file was missing; re-uploading")
            if cleared:
                services.document_retry(document=document)
                requeued += 1
    return len(report.orphans), requeued
