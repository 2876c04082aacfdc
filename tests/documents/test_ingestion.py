"""The ingestion pipeline, stage by stage, offline."""

from __future__ import annotations

from typing import Any

import pytest

from documents.ingestion.pipeline import document_ingest
from documents.models import Chunk, Document
from documents.services import (
    UploadRejected,
    document_create,
    workspace_default_for_user,
)
from tests.conftest import HANDBOOK, ingested, upload
from tests.pdfs import make_pdf

PDF_PAGES = [
    ["Quarterly report for the widget company."],
    ["Revenue grew to 42 million dollars in the third quarter."],
    ["Operating margin fell to 12 percent because of freight costs."],
]


def test_markdown_is_extracted_chunked_embedded_and_stored(user: Any) -> None:
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    assert document.status == Document.Status.READY
    assert document.progress == 100
    assert document.text == HANDBOOK
    assert document.files_api_note.startswith("skipped: offline")
    assert document.embedding_model == "offline-lexical-v2"
    chunks = list(document.chunks.order_by("ordinal"))
    assert chunks
    for chunk in chunks:
        assert document.text[chunk.start_char : chunk.end_char] == chunk.text
        vectors = list(chunk.vectors.all())
        assert [len(v.embedding) for v in vectors] == [1024]
        assert vectors[0].document_id == document.id
        assert chunk.token_estimate > 0
    vacation = next(c for c in chunks if "vacation" in c.text)
    assert vacation.heading == "Handbook › Vacation"


def test_pdf_chunks_know_their_page(user: Any) -> None:
    document = ingested(user, "report.pdf", make_pdf(PDF_PAGES))
    assert document.status == Document.Status.READY
    assert document.pages == 3
    margin = document.chunks.get(text__contains="Operating margin")
    assert margin.page == 3
    assert document.page_of(margin.start_char) == 3


def test_the_full_text_vector_is_generated(user: Any) -> None:
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    chunk = document.chunks.get(text__contains="vacation")
    assert "vacat" in str(chunk.search_vector)


def test_reingesting_gives_the_same_chunks(user: Any) -> None:
    document = ingested(user, "report.pdf", make_pdf(PDF_PAGES))
    before = list(document.chunks.order_by("ordinal").values_list("text", "start_char"))
    Document.objects.filter(id=document.id).update(status=Document.Status.QUEUED)
    document_ingest(document_id=document.id)
    document_ingest(document_id=document.id)  # already ready: a no-op
    after = list(document.chunks.order_by("ordinal").values_list("text", "start_char"))
    assert after == before
    assert Chunk.objects.filter(document=document).count() == len(before)


def test_a_corrupt_pdf_fails_with_a_reason_and_spares_the_others(user: Any) -> None:
    good = ingested(user, "handbook.md", HANDBOOK.encode())
    bad = ingested(user, "broken.pdf", make_pdf(PDF_PAGES)[:300])
    assert bad.status == Document.Status.FAILED
    assert "damaged" in bad.error
    assert bad.chunks.count() == 0
    good.refresh_from_db()
    assert good.status == Document.Status.READY
    assert good.chunks.count() > 0


def test_an_image_only_pdf_fails_with_that_reason(user: Any, settings: Any) -> None:
    settings.OCR_ENABLED = False
    document = ingested(user, "scan.pdf", make_pdf([[], []]))
    assert document.status == Document.Status.FAILED
    assert "no text layer" in document.error
    assert document.failure_kind == "scanned"


def test_a_blank_pdf_is_ocred_and_fails_saying_nothing_was_recognised(
    user: Any,
) -> None:
    document = ingested(user, "scan.pdf", make_pdf([[], []]))
    assert document.status == Document.Status.FAILED
    assert "OCR read its 2 pages and found none" in document.error
    assert document.failure_kind == "no_text_recognised"


def test_a_duplicate_upload_is_reported_not_reingested(user: Any) -> None:
    workspace = workspace_default_for_user(user=user)
    first = document_create(
        workspace=workspace, uploader=user, upload=upload("a.md", HANDBOOK.encode())
    )
    second = document_create(
        workspace=workspace, uploader=user, upload=upload("copy.md", HANDBOOK.encode())
    )
    assert not first.duplicate
    assert second.duplicate
    assert second.document.id == first.document.id
    assert Document.objects.count() == 1


def test_uploads_are_checked_by_content_and_size(user: Any, settings: Any) -> None:
    workspace = workspace_default_for_user(user=user)
    with pytest.raises(UploadRejected) as binary:
        document_create(
            workspace=workspace, uploader=user, upload=upload("x.md", b"PK\x03\x04zip")
        )
    assert binary.value.status == 415
    settings.MAX_UPLOAD_MB = 1
    with pytest.raises(UploadRejected) as big:
        document_create(
            workspace=workspace,
            uploader=user,
            upload=upload("big.txt", b"a" * (1024 * 1024 + 1)),
        )
    assert big.value.status == 413
    assert Document.objects.count() == 0


def test_hostile_filenames_never_reach_storage(user: Any) -> None:
    workspace = workspace_default_for_user(user=user)
    created = document_create(
        workspace=workspace,
        uploader=user,
        upload=upload("../../etc/pass\x00wd.md", HANDBOOK.encode()),
    )
    document = created.document
    assert document.original_name == "pass\x00wd.md".replace("\x00", "")
    stored = str(document.original.name)
    assert ".." not in stored
    assert stored.startswith("originals/")


def test_upload_queues_ingestion_after_commit(
    user: Any, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    from documents import queue

    sent: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(queue, "send", lambda task, *args: sent.append((task, args)))
    workspace = workspace_default_for_user(user=user)
    with django_capture_on_commit_callbacks(execute=True):
        created = document_create(
            workspace=workspace, uploader=user, upload=upload("a.md", HANDBOOK.encode())
        )
    assert sent == [("documents.tasks.ingest_task", (str(created.document.id),))]


def test_progress_stages_are_recorded(user: Any, monkeypatch: Any) -> None:
    from documents.ingestion import pipeline

    stages: list[str] = []
    original = pipeline.Progress.__call__

    def spy(self: Any, stage: str, *args: Any, **kwargs: Any) -> None:
        stages.append(stage)
        original(self, stage, *args, **kwargs)

    monkeypatch.setattr(pipeline.Progress, "__call__", spy)
    ingested(user, "report.pdf", make_pdf(PDF_PAGES))
    ordered = list(dict.fromkeys(stages))
    assert ordered == ["extracting", "chunking", "uploading", "embedding", "storing"]


def test_progress_labels_say_what_is_done_of_what(user: Any, monkeypatch: Any) -> None:
    from documents.ingestion import pipeline

    labels: list[tuple[str, int]] = []
    original = pipeline.Progress.__call__

    def spy(self: Any, stage: str, *args: Any, **kwargs: Any) -> None:
        kwargs["force"] = True
        original(self, stage, *args, **kwargs)
        document = Document.objects.get(id=self.document_id)
        labels.append((document.stage, document.progress))

    monkeypatch.setattr(pipeline.Progress, "__call__", spy)
    ingested(user, "report.pdf", make_pdf([["One."], ["Two."], ["Three."]]))
    stages = [label for label, _ in labels]
    assert "extracting page 2/3" in stages
    assert any(s.startswith("embedding ") and s.endswith(" chunks") for s in stages)
    percents = [percent for _, percent in labels]
    assert percents == sorted(percents)
