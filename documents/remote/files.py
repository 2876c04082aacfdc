"""Writes around the Files API: uploads, pauses, delete tombstones, reconcile.

Kept apart from services.py (the ingestion pipeline) because these obligations
outlive a document: a delete owed to the API, or a storage-full pause.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import mail_admins
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from documents.models import Document, RemoteFileTombstone, ServicePause
from documents.remote import files_api

log = logging.getLogger(__name__)

FILES = "files_api"
# Remote files younger than this may belong to an upload whose file_id is not yet
# saved; reconcile never calls them orphans.
PAUSED_NOTE = "paused: Files API storage is full"


def files_api_pause() -> ServicePause | None:
    """The active storage-full pause, if uploads are paused."""
    return ServicePause.objects.filter(service=FILES, until__gt=timezone.now()).first()


def files_api_pause_set(*, reason: str) -> None:
    """Pause uploads and tell the admins (log, mail, banner for staff)."""
    until = timezone.now() + timedelta(minutes=settings.FILES_API_PAUSE_MINUTES)
    _, created = ServicePause.objects.update_or_create(
        service=FILES, defaults={"until": until, "reason": reason}
    )
    log.error("Files API uploads paused until %s: %s", until, reason)
    if created:
        mail_admins("Cairn: Files API uploads paused", reason, fail_silently=True)


def files_api_pause_clear() -> None:
    """Resume uploads (an admin freed space)."""
    ServicePause.objects.filter(service=FILES).delete()


def upload_payload(document: Document) -> bytes:
    """What goes up: the PDF itself, or the stored text every offset indexes."""
    if document.is_pdf:
        with document.original.open("rb") as handle:
            return bytes(handle.read())
    return document.text.encode()


def document_upload(*, document: Document, payload: bytes | None = None) -> None:
    """Upload a document's file unless it has one; map refusals to notes.

    The file_id is saved at once, so a crash after the upload never uploads twice.
    """
    if document.file_id:
        return
    if not files_api.online():
        _note(document, "skipped: offline mode (no ANTHROPIC_API_KEY)")
        return
    if files_api_pause() is not None:
        _note(document, PAUSED_NOTE)
        return
    data = payload if payload is not None else upload_payload(document)
    adopted = _adopt_earlier_upload(document, len(data))
    if adopted:
        _saved(document, adopted)
        return
    Document.objects.filter(id=document.id).update(upload_started=timezone.now())
    try:
        file_id = files_api.upload(
            original_name=document.original_name,
            data=data,
            mime_type=document.mime_type,
        )
    except files_api.FileTooLarge as exc:
        _note(document, f"too large for the Files API: {exc}")
        return
    except files_api.StorageFull as exc:
        files_api_pause_set(reason=str(exc))
        _note(document, PAUSED_NOTE)
        return
    _saved(document, file_id)


def _saved(document: Document, file_id: str) -> None:
    document.file_id = file_id
    document.files_api_note = ""
    document.save(update_fields=["file_id", "files_api_note", "updated"])


def _adopt_earlier_upload(document: Document, size: int) -> str:
    """The file an attempt killed mid-upload left behind, if there is one.

    Only after a crash (upload_started set, no file_id) is the remote list read;
    extra copies are tombstoned, so the document ends with exactly one file.
    """
    started = Document.objects.values_list("upload_started", flat=True).get(
        id=document.id
    )
    if started is None:
        return ""
    name = files_api.remote_filename(
        document.original_name, as_text=not document.is_pdf
    )
    owned = set(Document.objects.exclude(file_id="").values_list("file_id", flat=True))
    found = [
        file_id
        for file_id in files_api.find_upload(name, size, started - timedelta(seconds=5))
        if file_id not in owned
    ]
    if not found:
        return ""
    for extra in found[1:]:
        remote_file_forget(file_id=extra, reason=f"duplicate upload of {document.id}")
    log.info("document %s adopts its earlier upload %s", document.id, found[0])
    return found[0]


def _note(document: Document, note: str) -> None:
    document.files_api_note = note[:200]
    document.save(update_fields=["files_api_note", "updated"])


def document_reupload_missing(*, documents: list[Document]) -> list[Document]:
    """Re-upload the documents whose remote file is gone; return those re-uploaded."""
    redone = []
    for document in documents:
        if document.file_id and not files_api.exists(document.file_id):
            log.warning("remote file %s of %s is gone", document.file_id, document.id)
            Document.objects.filter(id=document.id).update(
                file_id="", upload_started=None
            )
            document.file_id = ""
            document_upload(document=document)
            redone.append(document)
    return redone


# Deletion ------------------------------------------------------------------


def remote_file_forget(*, file_id: str, reason: str) -> None:
    """Record that file_id must be deleted (call inside the deleting transaction).

    The tombstone commits with the deletion, so the obligation is never lost
    even if the API is down or the process dies right after.
    """
    RemoteFileTombstone.objects.get_or_create(
        file_id=file_id, defaults={"reason": reason}
    )


def remote_file_release(*, file_id: str, reason: str) -> None:
    """Owe file_id a delete (inside the transaction), then try it once on commit.

    The quick attempt leaves nothing behind in the common case; if the Files
    API is down the tombstone stays and the periodic drain retries it.
    """
    remote_file_forget(file_id=file_id, reason=reason)
    if not files_api.online():
        return

    def attempt() -> None:
        try:
            tombstones_drain(file_ids=[file_id], retries=0)
        except Exception:
            log.exception("remote file %s stays tombstoned", file_id)

    transaction.on_commit(attempt)


def _retry_at(attempts: int) -> datetime:
    minutes = min(2 ** max(attempts - 1, 0), 360)
    return timezone.now() + timedelta(minutes=minutes)


def tombstones_drain(
    *, file_ids: list[str] | None = None, retries: int | None = None
) -> tuple[int, int]:
    """Delete the remote files of due tombstones; return (deleted, remaining)."""
    due = RemoteFileTombstone.objects.all()
    if file_ids is not None:
        due = due.filter(file_id__in=file_ids)
    else:
        due = due.filter(next_attempt__lte=timezone.now())
    deleted = 0
    for tombstone in list(due.order_by("next_attempt")[:500]):
        try:
            files_api.delete(tombstone.file_id, retries=retries)
        except Exception as exc:
            tombstone.attempts += 1
            tombstone.last_error = str(exc)[:2000]
            tombstone.next_attempt = _retry_at(tombstone.attempts)
            tombstone.save(update_fields=["attempts", "last_error", "next_attempt"])
            log.warning("delete of %s failed (%s); retry later", tombstone.file_id, exc)
            continue
        tombstone.delete()
        deleted += 1
    return deleted, RemoteFileTombstone.objects.count()


# Reconcile -----------------------------------------------------------------


@dataclass
class Reconciliation:
    """What files_reconcile found and, with fix, did."""

    remote: int = 0
    orphans: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    deleted: int = 0
    reuploaded: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.remote} remote files, {len(self.orphans)} orphans, "
            f"{len(self.missing)} documents missing their remote file; "
            f"deleted {self.deleted}, re-uploaded {self.reuploaded}"
            + (f"; {len(self.errors)} errors" if self.errors else "")
        )


def files_reconcile(*, fix: bool = False) -> Reconciliation:
    """Compare remote files with documents; with fix, delete orphans, re-upload gaps."""
    report = Reconciliation()
    owned = set(Document.objects.exclude(file_id="").values_list("file_id", flat=True))
    remote: set[str] = set()
    # A young unowned file may be an upload whose id is being saved right now.
    cutoff = timezone.now() - timedelta(minutes=settings.FILES_ORPHAN_GRACE_MINUTES)
    for file_id, _name, created in files_api.remote_files():
        report.remote += 1
        remote.add(file_id)
        if file_id not in owned and (created is None or created < cutoff):
            report.orphans.append(file_id)
    missing = Document.objects.filter(status=Document.Status.READY).filter(
        Q(file_id="", files_api_note=PAUSED_NOTE)
        | (~Q(file_id="") & ~Q(file_id__in=remote))
    )
    report.missing = [str(pk) for pk in missing.values_list("id", flat=True)]
    if not fix:
        return report
    for file_id in report.orphans:
        try:
            files_api.delete(file_id)
            RemoteFileTombstone.objects.filter(file_id=file_id).delete()
            report.deleted += 1
        except Exception as exc:
            report.errors.append(f"delete {file_id}: {exc}")
    if report.deleted:
        files_api_pause_clear()
    for document in Document.objects.filter(id__in=report.missing):
        document.file_id = ""
        Document.objects.filter(id=document.id).update(file_id="", upload_started=None)
        try:
            document_upload(document=document)
        except Exception as exc:
            report.errors.append(f"upload {document.id}: {exc}")
            continue
        if document.file_id:
            report.reuploaded += 1
    return report


def reconcile_summary(report: Reconciliation) -> dict[str, Any]:
    """The report as JSON for logs and the beat task's result."""
    return {
        "remote": report.remote,
        "orphans": report.orphans,
        "missing": report.missing,
        "deleted": report.deleted,
        "reuploaded": report.reuploaded,
        "errors": report.errors,
    }
