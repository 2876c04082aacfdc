"""Duplicate uploads: decided by a unique constraint, so concurrency cannot split it."""

from __future__ import annotations

import io
import threading
import uuid
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from documents import queue
from documents.api_auth import token_create
from documents.models import Document
from documents.services import document_create, workspace_default_for_user
from documents.teams.services import workspace_create
from tests.conftest import HANDBOOK, upload
from tests.factories import make_user

UPLOADERS = 16


@pytest.fixture
def sent(monkeypatch: Any) -> list[tuple[str, tuple[Any, ...]]]:
    """Tasks queued, recorded instead of sent (no worker runs here)."""
    calls: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(queue, "send", lambda task, *args: calls.append((task, args)))
    return calls


@pytest.mark.django_db(transaction=True)
def test_the_same_file_uploaded_concurrently_makes_one_document(
    sent: list[Any],
) -> None:
    user = make_user()
    workspace_default_for_user(user=user)
    token = token_create(user=user)
    barrier = threading.Barrier(UPLOADERS)
    statuses: list[int] = []
    bodies: list[dict[str, Any]] = []
    lock = threading.Lock()

    def upload() -> None:
        client = Client(headers={"Authorization": f"Bearer {token}"})
        handle = io.BytesIO(HANDBOOK.encode())
        handle.name = "handbook.md"
        try:
            barrier.wait()
            response = client.post("/api/v1/documents", {"file": handle})
            with lock:
                statuses.append(response.status_code)
                bodies.append(response.json())
        finally:
            # Each thread has its own database connection; close it here.
            connection.close()

    threads = [threading.Thread(target=upload) for _ in range(UPLOADERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200] * (UPLOADERS - 1) + [201]
    assert Document.objects.count() == 1
    only = Document.objects.get()
    assert {body["id"] for body in bodies} == {str(only.id)}
    assert sum(body["duplicate"] for body in bodies) == UPLOADERS - 1
    # One ingestion queued, and only the winner's original left in storage.
    assert len(sent) == 1
    assert _originals(only) == [str(only.original.name).rsplit("/", 1)[-1]]


def _originals(document: Document) -> list[str]:
    storage = document.original.storage
    folder = str(document.original.name).rsplit("/", 1)[0]
    return sorted(storage.listdir(folder)[1])


def test_the_same_bytes_in_two_workspaces_are_two_documents(
    user: Any, sent: list[Any]
) -> None:
    first = workspace_default_for_user(user=user)
    second = workspace_create(name="Second", owner=user)
    for workspace in (first, second):
        created = document_create(
            workspace=workspace, uploader=user, upload=upload("a.md", b"# Same")
        )
        assert not created.duplicate
    again = document_create(
        workspace=second, uploader=user, upload=upload("b.md", b"# Same")
    )
    assert again.duplicate
    assert Document.objects.count() == 2


SEARCH = ("search", "0004_merge_20261121_2203")
BEFORE = [("documents", "0005_embedding_spaces"), SEARCH]
AFTER = [("documents", "0006_hostile_unique_upload"), SEARCH]


def _migrate(targets: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_one_of_each_duplicate_and_moves_its_citations(
    capsys: Any,
) -> None:
    old = _migrate(BEFORE)
    workspace = old.get_model("documents", "Workspace").objects.create(name="w")
    Document = old.get_model("documents", "Document")

    def document(status: str, **extra: Any) -> Any:
        return Document.objects.create(
            id=uuid.uuid4(),
            workspace=workspace,
            original="x.md",
            original_name="x.md",
            title="x",
            mime_type="text/markdown",
            size=1,
            status=status,
            **({"sha256": "a" * 64} | extra),
        )

    failed = document("failed")
    ready = document("ready", file_id="file_dup_ready")
    document("queued", file_id="file_dup_queued")
    url_a = document("ready", source_url="https://a.example/", sha256="b" * 64)
    url_b = document("ready", source_url="https://b.example/", sha256="b" * 64)
    Question = old.get_model("search", "Question")
    Answer = old.get_model("search", "Answer")
    question = Question.objects.create(workspace=workspace, text="q")
    answer = Answer.objects.create(question=question, mode="extractive", text="a")
    old.get_model("search", "Citation").objects.create(
        answer=answer, document=failed, cited_text="x", ordinal=0, kind="char"
    )

    new = _migrate(AFTER)
    print_out = capsys.readouterr().out
    kept = new.get_model("documents", "Document").objects
    assert set(kept.values_list("id", flat=True)) == {ready.id, url_a.id, url_b.id}
    citation = new.get_model("search", "Citation").objects.get()
    assert citation.document_id == ready.id
    tombstones = new.get_model("documents", "RemoteFileTombstone").objects
    assert list(tombstones.values_list("file_id", flat=True)) == ["file_dup_queued"]
    assert f"kept {ready.id}" in print_out
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


# URL documents ---------------------------------------------------------------

ADDERS = 12


@pytest.mark.django_db(transaction=True)
def test_the_same_url_added_concurrently_makes_one_document(
    sent: list[Any],
) -> None:
    from documents.web.documents import document_create_from_url

    user = make_user()
    workspace = workspace_default_for_user(user=user)
    # Spellings of one address: they normalise to one key.
    spellings = [
        "https://example.com/handbook",
        "HTTPS://Example.COM/handbook",
        "https://example.com:443/handbook",
        "https://example.com/handbook#vacation",
    ]
    barrier = threading.Barrier(ADDERS)
    outcomes: list[tuple[str, bool]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def add(n: int) -> None:
        try:
            barrier.wait()
            created = document_create_from_url(
                workspace=workspace, uploader=user, url=spellings[n % len(spellings)]
            )
            with lock:
                outcomes.append((str(created.document.id), created.duplicate))
        except BaseException as exc:  # reported below, not lost in the thread
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=add, args=(n,)) for n in range(ADDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Document.objects.count() == 1
    only = Document.objects.get()
    assert only.source_url == "https://example.com/handbook"
    assert {document_id for document_id, _ in outcomes} == {str(only.id)}
    assert sorted(duplicate for _, duplicate in outcomes) == [False] + [True] * (
        ADDERS - 1
    )
    assert len(sent) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_re_adds_of_a_failed_url_queue_it_once(sent: list[Any]) -> None:
    from documents.web.documents import document_create_from_url

    user = make_user()
    workspace = workspace_default_for_user(user=user)
    first = document_create_from_url(
        workspace=workspace, uploader=user, url="https://example.com/down"
    )
    Document.objects.filter(id=first.document.id).update(
        status="failed", failure_kind="url_unreachable"
    )
    sent.clear()
    barrier = threading.Barrier(ADDERS)
    fresh: list[bool] = []

    def add() -> None:
        try:
            barrier.wait()
            created = document_create_from_url(
                workspace=workspace, uploader=user, url="https://example.com/down"
            )
            fresh.append(not created.duplicate)
        finally:
            connection.close()

    threads = [threading.Thread(target=add) for _ in range(ADDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(fresh) == 1 and len(fresh) == ADDERS
    assert len(sent) == 1
    assert Document.objects.get().status == "queued"


def test_the_same_url_in_two_workspaces_is_two_documents(
    user: Any, sent: list[Any]
) -> None:
    from documents.web.documents import document_create_from_url

    first = workspace_default_for_user(user=user)
    second = workspace_create(name="Second", owner=user)
    for workspace in (first, second):
        created = document_create_from_url(
            workspace=workspace, uploader=user, url="https://example.com/a"
        )
        assert not created.duplicate
    assert Document.objects.count() == 2


def test_urls_are_stored_in_one_spelling() -> None:
    from documents.web.documents import normalised_url

    assert normalised_url("HTTP://Example.com:80") == "http://example.com/"
    assert normalised_url("https://example.com:8443/a?b=1#c") == (
        "https://example.com:8443/a?b=1"
    )
    assert normalised_url("https://[2001:DB8::1]:443/x") == "https://[2001:db8::1]/x"
    # The path and query are the server's to interpret: kept as given.
    assert normalised_url("https://example.com/A/b?Q=R") == (
        "https://example.com/A/b?Q=R"
    )


URL_BEFORE = [
    ("documents", "0009_merge_20261202_0628"),
    ("search", "0005_apis_search_result_citations"),
]
URL_AFTER = [
    ("documents", "0010_polish_unique_url"),
    ("search", "0005_apis_search_result_citations"),
]


@pytest.mark.django_db(transaction=True)
def test_the_url_migration_normalises_and_keeps_one_of_each_duplicate(
    capsys: Any,
) -> None:
    old = _migrate(URL_BEFORE)
    workspace = old.get_model("documents", "Workspace").objects.create(name="w")
    other = old.get_model("documents", "Workspace").objects.create(name="o")
    Document = old.get_model("documents", "Document")

    def document(status: str, url: str, **extra: Any) -> Any:
        return Document.objects.create(
            id=uuid.uuid4(),
            workspace=extra.pop("workspace", workspace),
            original_name=url,
            title="page",
            mime_type="text/html",
            size=1,
            status=status,
            source_url=url,
            **extra,
        )

    failed = document("failed", "https://Example.com/page")
    ready = document("ready", "https://example.com/page#top", file_id="file_kept")
    queued = document("queued", "https://example.com:443/page", file_id="file_dup")
    alone = document("ready", "HTTPS://example.com/other")
    elsewhere = document("ready", "https://example.com/page", workspace=other)
    Question = old.get_model("search", "Question")
    Answer = old.get_model("search", "Answer")
    question = Question.objects.create(workspace=workspace, text="q")
    answer = Answer.objects.create(question=question, mode="extractive", text="a")
    old.get_model("search", "Citation").objects.create(
        answer=answer, document=failed, cited_text="x", ordinal=0, kind="char"
    )

    new = _migrate(URL_AFTER)
    printed = capsys.readouterr().out
    kept = new.get_model("documents", "Document").objects
    assert set(kept.values_list("id", flat=True)) == {ready.id, alone.id, elsewhere.id}
    assert kept.get(id=ready.id).source_url == "https://example.com/page"
    assert kept.get(id=alone.id).source_url == "https://example.com/other"
    citation = new.get_model("search", "Citation").objects.get()
    assert citation.document_id == ready.id
    tombstones = new.get_model("documents", "RemoteFileTombstone").objects
    assert list(tombstones.values_list("file_id", flat=True)) == ["file_dup"]
    assert f"kept {ready.id}" in printed and str(queued.id) in printed
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
