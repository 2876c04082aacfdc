"""Test data builders."""

from __future__ import annotations

import hashlib
import itertools
from typing import Any

from django.contrib.auth import get_user_model

from documents.models import Chunk, Document, Workspace

PASSWORD = "correct horse battery"
_numbers = itertools.count(1)


def make_user(**fields: Any) -> Any:
    """Create a user with a unique name and the shared test password."""
    number = next(_numbers)
    fields.setdefault("username", f"user{number}")
    fields.setdefault("email", f"{fields['username']}@example.com")
    return get_user_model().objects.create_user(password=PASSWORD, **fields)


def join(user: Any, workspace: Any, role: str) -> Any:
    """Make `user` a member of `workspace` with `role`."""
    from documents.models import Membership

    return Membership.objects.create(user=user, workspace=workspace, role=role)


KINDS = (
    ("application/pdf", ".pdf"),
    ("text/markdown", ".md"),
    ("text/csv", ".csv"),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ".docx",
    ),
    ("text/html", ".html"),
)
STATUSES = ("ready", "ready", "ready", "ready", "failed", "queued", "processing")
TAGS: tuple[list[str], ...] = ([], ["finance"], ["policy", "finance"])


def make_documents(workspace: Any, count: int) -> list[Any]:
    """Documents "Report 0".. of mixed types, statuses and tags, oldest first.

    Rows only (no files, no chunks): enough for the list, its filters and
    its paging.
    """
    import uuid

    from documents.models import Document

    documents = []
    for index in range(count):
        mime, suffix = KINDS[index % len(KINDS)]
        status = STATUSES[index % len(STATUSES)]
        documents.append(
            Document(
                workspace=workspace,
                original_name=f"report-{index}{suffix}",
                original=f"originals/test/report-{index}{suffix}",
                title=f"Report {index}",
                mime_type=mime,
                sha256=uuid.uuid4().hex * 2,
                size=1000 + index,
                status=status,
                progress=100 if status == "ready" else 30,
                stage="ready" if status == "ready" else "",
                error="The PDF is damaged and cannot be read."
                if status == "failed"
                else "",
                failure_kind="damaged" if status == "failed" else "",
                files_api_note="skipped: offline mode (no ANTHROPIC_API_KEY)",
                tags=TAGS[index % len(TAGS)],
            )
        )
    return Document.objects.bulk_create(documents)


def make_chunks(workspace: Workspace, texts: list[str]) -> list[Chunk]:
    """One ready document per text, one chunk each, without vectors."""
    documents = Document.objects.bulk_create(
        Document(
            workspace=workspace,
            original_name=f"{i}.txt",
            title=f"doc {i}",
            mime_type="text/plain",
            sha256=hashlib.sha256(text.encode()).hexdigest(),
            size=len(text),
            status=Document.Status.READY,
            text=text,
        )
        for i, text in enumerate(texts)
    )
    return Chunk.objects.bulk_create(
        Chunk(
            document=document,
            workspace=workspace,
            ordinal=0,
            text=text,
            start_char=0,
            end_char=len(text),
            token_estimate=len(text) // 4,
        )
        for document, text in zip(documents, texts, strict=True)
    )
