"""Compare the Files API with Cairn's documents; --fix repairs what differs."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from documents.remote import files_api
from documents.remote.files import files_reconcile


class Command(BaseCommand):
    help = (
        "List remote files page by page; report orphans (no document owns them) "
        "and documents whose remote file is gone or expired. --fix deletes orphans "
        "and re-uploads missing and expired files."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fix", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if not files_api.online():
            raise CommandError("ANTHROPIC_API_KEY is not set: there is no Files API.")
        report = files_reconcile(fix=options["fix"])
        for file_id in report.orphans:
            self.stdout.write(f"orphan {file_id}")
        for document_id in report.missing:
            self.stdout.write(f"missing {document_id}")
        for document_id in report.expired:
            self.stdout.write(f"expired {document_id}")
        for error in report.errors:
            self.stderr.write(f"error {error}")
        self.stdout.write(report.summary())
        if report.errors:
            raise CommandError(f"{len(report.errors)} repairs failed")
