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
    """What goes up: the PDF or image itself, or the stored text offsets index."""
    if document.sends_original:
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
    if adopted is not None:
        _saved(document, adopted)
        return
    Document.objects.filter(id=document.id).update(upload_started=timezone.now())
    try:
        uploaded = files_api.upload(
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
    _saved(document, uploaded)


def _saved(document: Document, remote: files_api.RemoteFile) -> None:
    document.file_id = remote.id
    document.expires_at = remote.expires_at
    document.files_api_note = ""
    document.save(update_fields=["file_id", "expires_at", "files_api_note", "updated"])


def _adopt_earlier_upload(document: Document, size: int) -> files_api.RemoteFile | None:
    """The file an attempt killed mid-upload left behind, if there is one.

    Only after a crash (upload_started set, no file_id) is the remote list read;
    extra copies are tombstoned, so the document ends with exactly one file.
    """
    started = Document.objects.values_list("upload_started", flat=True).get(
        id=document.id
    )
    if started is None:
        return None
    name = files_api.remote_filename(
        document.original_name, as_text=not document.sends_original
    )
    owned = set(Document.objects.exclude(file_id="").values_list("file_id", flat=True))
    found = [
        remote
        for remote in files_api.find_upload(name, size, started - timedelta(seconds=5))
        if remote.id not in owned and not remote.expired()
    ]
    if not found:
        return None
    for extra in found[1:]:
        remote_file_forget(
            file_id=extra.id, reason=f"duplicate upload of {document.id}"
        )
    log.info("document %s adopts its earlier upload %s", document.id, found[0].id)
    return found[0]


def _note(document: Document, note: str) -> None:
    document.files_api_note = note[:200]
    document.save(update_fields=["files_api_note", "updated"])


def document_reupload_unusable(*, documents: list[Document]) -> list[Document]:
    """Re-upload the documents whose remote file is gone or expired.

    An expired file still has its metadata (only its bytes are gone), so the
    check is "usable", not "exists". Returns the documents re-uploaded.
    """
    redone = []
    for document in documents:
        sent = document.file_id
        document.refresh_from_db(fields=["file_id", "expires_at"])
        if document.file_id != sent:
            redone.append(document)  # replaced meanwhile (a refresh): just retry
            continue
        if document.file_id and not files_api.usable(document.file_id):
            log.warning(
                "remote file %s of %s is unusable", document.file_id, document.id
            )
            document_reupload(document=document, reason="gone or expired")
            redone.append(document)
    return redone


def document_reupload_expired(*, documents: list[Document]) -> list[Document]:
    """Re-upload, without asking the API, documents whose stored expiry has passed."""
    now = timezone.now()
    expired = [
        d for d in documents if d.file_id and d.expires_at and d.expires_at <= now
    ]
    for document in expired:
        document_reupload(document=document, reason="expired")
    return expired


def document_reupload(*, document: Document, reason: str) -> None:
    """Upload a document's file again from the kept original; owe the old one a delete.

    An expired file's metadata stays listed until deleted, so the old id is
    tombstoned rather than dropped.
    """
    old = document.file_id
    with transaction.atomic():
        if old:
            remote_file_forget(
                file_id=old, reason=f"replaced ({reason}) for {document.id}"
            )
        Document.objects.filter(id=document.id).update(
            file_id="", expires_at=None, upload_started=None
        )
    document.file_id = ""
    document.expires_at = None
    document_upload(document=document)


def documents_refresh_expiring(*, within: timedelta) -> int:
    """Re-upload ready documents whose file expires within `within`; return how many.

    Only documents still in use: ready, in a workspace, with a file to replace.
    """
    if not files_api.online() or files_api_pause() is not None:
        return 0
    soon = timezone.now() + within
    due = Document.objects.filter(
        status=Document.Status.READY, expires_at__isnull=False, expires_at__lte=soon
    ).exclude(file_id="")
    refreshed = 0
    for document in due.order_by("expires_at")[:200]:
        document_reupload(document=document, reason="expiring")
        refreshed += 1 if document.file_id else 0
    return refreshed


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
    # Documents whose remote file is still listed but past its expires_at.
    expired: list[str] = field(default_factory=list)
    deleted: int = 0
    reuploaded: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.remote} remote files, {len(self.orphans)} orphans, "
            f"{len(self.missing)} documents missing their remote file, "
            f"{len(self.expired)} with an expired one; "
            f"deleted {self.deleted}, re-uploaded {self.reuploaded}"
            + (f"; {len(self.errors)} errors" if self.errors else "")
        )


def files_reconcile(*, fix: bool = False) -> Reconciliation:
    """Compare remote files with documents; with fix, delete orphans, re-upload gaps."""
    report = Reconciliation()
    owned = set(Document.objects.exclude(file_id="").values_list("file_id", flat=True))
    remote: set[str] = set()
    expired: set[str] = set()
    # A young unowned file may be an upload whose id is being saved right now.
    cutoff = timezone.now() - timedelta(minutes=settings.FILES_ORPHAN_GRACE_MINUTES)
    for found in files_api.remote_files():
        report.remote += 1
        remote.add(found.id)
        if found.expired():
            expired.add(found.id)
        if found.id not in owned and (found.created is None or found.created < cutoff):
            report.orphans.append(found.id)
    missing = Document.objects.filter(status=Document.Status.READY).filter(
        Q(file_id="", files_api_note=PAUSED_NOTE)
        | (~Q(file_id="") & ~Q(file_id__in=remote))
    )
    report.missing = [str(pk) for pk in missing.values_list("id", flat=True)]
    stale = Document.objects.filter(
        status=Document.Status.READY, file_id__in=expired & owned
    )
    report.expired = [str(pk) for pk in stale.values_list("id", flat=True)]
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
    for document in Document.objects.filter(id__in=report.missing + report.expired):
        try:
            document_reupload(document=document, reason="reconcile")
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
        "expired": report.expired,
        "deleted": report.deleted,
        "reuploaded": report.reuploaded,
        "errors": report.errors,
    }
