"""Embedding spaces: switching model or dimension re-embeds with no downtime."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from documents import health
from documents.ingestion import spaces
from documents.ingestion.spaces import get_embedder
from documents.models import ChunkVector, Document, EmbeddingSpace
from documents.remote.embeddings import OfflineEmbedder
from search import retrieval
from search.retrieval import chunk_search, dense_ids
from tests.conftest import HANDBOOK, ingested, start_worker, stop_worker
from tests.fakes.voyage import FakeVoyage

MEMO = (
    "# Travel memo\n\n"
    "Train tickets for the Lisbon offsite are booked through the travel desk. "
    "Hotel stays are capped at 140 euros a night.\n"
)


def _dense_texts(document: Document, query: str) -> list[str]:
    """Chunk texts dense search finds for query, best first (the dense half only)."""
    vector = get_embedder().embed_query(query)
    ids = dense_ids(document.workspace_id, vector, 5)
    texts = dict(document.workspace.documents.values_list("chunks__id", "chunks__text"))
    return [texts.get(i) or f"other {i}" for i in ids]


def _index_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'documents_chunkvector'"
        )
        return {row[0] for row in cursor.fetchall()}


def _vector_counts(document: Document) -> dict[str, int]:
    counts: dict[str, int] = {}
    for vector in ChunkVector.objects.filter(document_id=document.id).select_related(
        "space"
    ):
        counts[vector.space.name] = counts.get(vector.space.name, 0) + 1
    return counts


def test_a_fresh_install_makes_the_configured_space_active(user: Any) -> None:
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    active = EmbeddingSpace.objects.get(status="active")
    assert active.name == "offline-lexical-v2/1024"
    assert active.index_name in _index_names()
    assert _vector_counts(document) == {active.name: document.chunks.count()}


def test_a_dimension_switch_keeps_search_on_the_old_space_until_complete(
    user: Any, settings: Any
) -> None:
    settings.EMBEDDING_BUILD_BATCH = 1
    handbook = ingested(user, "handbook.md", HANDBOOK.encode())
    old = EmbeddingSpace.objects.get(status="active")
    assert "vacation" in _dense_texts(handbook, "paid vacation days")[0]

    settings.EMBEDDING_DIMENSIONS = 256
    summary = spaces.spaces_reconcile(enqueue=False)
    assert summary["building"] == "offline-lexical-v2/256"
    new = EmbeddingSpace.objects.get(status="building")
    assert new.dimensions == 256
    # Its index is built over the filled space, just before activation.
    assert new.index_name not in _index_names()

    # Half built: queries still embed in the active space's model and width.
    assert spaces.space_build(space_id=new.pk, max_batches=1).state == "more"
    done, total = spaces.space_progress(new)
    assert 0 < done < total
    assert not spaces.space_activate(space_id=new.pk)
    query_vector = get_embedder().embed_query("paid vacation days")
    assert len(query_vector) == 1024
    assert "vacation" in _dense_texts(handbook, "paid vacation days")[0]
    assert chunk_search(
        workspace_id=handbook.workspace_id, query="paid vacation days", top_k=3
    )
    # A vector of the other width finds nothing instead of a dimension error.
    assert dense_ids(handbook.workspace_id, [1.0] + [0.0] * 255, 5) == []

    # A document ingested during the build lands in both spaces.
    memo = ingested(user, "memo.md", MEMO.encode())
    count = memo.chunks.count()
    assert _vector_counts(memo) == {old.name: count, new.name: count}
    assert "Lisbon" in _dense_texts(memo, "Lisbon train tickets")[0]

    assert spaces.space_build(space_id=new.pk).state == "active"
    new.refresh_from_db()
    old.refresh_from_db()
    assert (new.status, old.status) == ("active", "retired")
    assert {new.index_name, old.index_name} <= _index_names()
    assert new.activated is not None and old.retired is not None
    assert spaces.space_progress(new) == (total + count, total + count)

    # After: the new space's model and width, and the same answers.
    assert len(get_embedder().embed_query("paid vacation days")) == 256
    assert "vacation" in _dense_texts(handbook, "paid vacation days")[0]
    assert "Lisbon" in _dense_texts(memo, "Lisbon train tickets")[0]
    assert spaces.spaces_reconcile(enqueue=False)["building"] is None

    # Retired vectors stay a while for queries in flight, then go with the index.
    assert spaces.spaces_purge() == 0
    assert spaces.spaces_purge(older_than=timedelta(0)) == 1
    assert not ChunkVector.objects.filter(space=old).exists()
    assert old.index_name not in _index_names()
    assert ChunkVector.objects.filter(space=new).count() == total + count


def test_a_vector_from_a_retired_space_is_searched_in_that_space(
    user: Any, settings: Any
) -> None:
    handbook = ingested(user, "handbook.md", HANDBOOK.encode())
    in_flight = get_embedder().embed_query("paid vacation days")
    settings.EMBEDDING_DIMENSIONS = 512
    spaces.spaces_reconcile(enqueue=False)
    building = EmbeddingSpace.objects.get(status="building")
    assert spaces.space_build(space_id=building.pk).state == "active"
    # A query embedded just before the switch still compares like with like.
    assert len(in_flight) == 1024
    assert "vacation" in _dense_texts_for(handbook, in_flight)[0]


def _dense_texts_for(document: Document, vector: list[float]) -> list[str]:
    ids = dense_ids(document.workspace_id, vector, 5)
    texts = dict(document.chunks.values_list("id", "text"))
    return [texts[i] for i in ids]


def test_changing_the_settings_back_mid_build_abandons_the_build(
    user: Any, settings: Any
) -> None:
    ingested(user, "handbook.md", HANDBOOK.encode())
    settings.EMBEDDING_DIMENSIONS = 512
    spaces.spaces_reconcile(enqueue=False)
    settings.EMBEDDING_DIMENSIONS = 1024
    summary = spaces.spaces_reconcile(enqueue=False)
    assert summary == {
        "active": "offline-lexical-v2/1024",
        "desired": "offline-lexical-v2/1024",
        "building": None,
        "purged": 0,
    }
    assert EmbeddingSpace.objects.get(name="offline-lexical-v2/512").status == (
        "retired"
    )


@pytest.mark.django_db(transaction=True)
def test_activation_waits_for_a_store_in_flight(user: Any, settings: Any) -> None:
    """A document stored while a switch completes is never left without vectors.

    Ingestion writes under FOR SHARE on the live spaces; activation needs FOR
    UPDATE on them, so it waits for the store and then re-checks completeness.
    """
    settings.EMBEDDING_BUILD_BATCH = 1
    handbook = ingested(user, "handbook.md", HANDBOOK.encode())
    settings.EMBEDDING_DIMENSIONS = 256
    spaces.spaces_reconcile(enqueue=False)
    new = EmbeddingSpace.objects.get(status="building")
    chunks = handbook.chunks.count()
    # Every chunk embedded, not yet activated.
    assert spaces.space_build(space_id=new.pk, max_batches=chunks).state == "more"
    holding, release = threading.Event(), threading.Event()
    activated: list[bool] = []

    def store() -> None:
        try:
            with transaction.atomic():
                spaces.lock_live_spaces()
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    def activate() -> None:
        try:
            activated.append(spaces.space_activate(space_id=new.pk))
        finally:
            connection.close()

    storer = threading.Thread(target=store)
    storer.start()
    assert holding.wait(10)
    activator = threading.Thread(target=activate)
    activator.start()
    activator.join(0.5)
    assert activator.is_alive(), "activation did not wait for the store in flight"
    assert EmbeddingSpace.objects.get(pk=new.pk).status == "building"
    release.set()
    storer.join(10)
    activator.join(10)
    assert activated == [True]
    assert EmbeddingSpace.objects.get(pk=new.pk).status == "active"


def _plan(workspace_id: int, space: EmbeddingSpace) -> str:
    vector = get_embedder().embed_query("paid vacation days")
    assert getattr(vector, "space_id", None) == space.pk
    sql = retrieval._DENSE_SQL.format(space=space.pk, dimensions=space.dimensions)
    with transaction.atomic(), connection.cursor() as cursor:
        # A handful of rows would make a sequential scan cheaper; this asks
        # whether the index *can* serve the query (expression and predicate).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN " + sql,
            [workspace_id, None, None, retrieval.vector_literal(vector), 5],
        )
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_dense_query_uses_the_active_spaces_partial_index(
    user: Any, settings: Any
) -> None:
    handbook = ingested(user, "handbook.md", HANDBOOK.encode())
    old = EmbeddingSpace.objects.get(status="active")
    settings.EMBEDDING_DIMENSIONS = 256
    spaces.spaces_reconcile(enqueue=False)
    new = EmbeddingSpace.objects.get(status="building")
    assert f"Index Scan using {old.index_name}" in _plan(handbook.workspace_id, old)
    assert spaces.space_build(space_id=new.pk).state == "active"
    plan = _plan(handbook.workspace_id, new)
    assert f"Index Scan using {new.index_name}" in plan
    assert old.index_name not in plan


def test_the_switch_command_builds_now(user: Any, settings: Any) -> None:
    ingested(user, "handbook.md", HANDBOOK.encode())
    settings.EMBEDDING_DIMENSIONS = 512
    call_command("embeddings_switch", "--now")
    assert EmbeddingSpace.objects.get(status="active").name == (
        "offline-lexical-v2/512"
    )


def test_an_online_model_and_dimension_switch_uses_the_right_model_throughout(
    online: Any, user: Any, fake_voyage: FakeVoyage, settings: Any
) -> None:
    settings.EMBEDDING_BUILD_BATCH = 1
    handbook = ingested(user, "handbook.md", HANDBOOK.encode())
    assert EmbeddingSpace.objects.get(status="active").name == "voyage-4/1024"
    settings.EMBEDDING_MODEL = "voyage-3-large"
    settings.EMBEDDING_DIMENSIONS = 512
    spaces.spaces_reconcile(enqueue=False)
    building = EmbeddingSpace.objects.get(status="building")
    assert spaces.space_build(space_id=building.pk, max_batches=1).state == "more"

    fake_voyage.requests.clear()
    assert "vacation" in _dense_texts(handbook, "paid vacation days")[0]
    memo = ingested(user, "memo.md", MEMO.encode())
    requests = [r.body for r in fake_voyage.requests if r.path == "/v1/embeddings"]
    query = [
        (b["model"], b["output_dimension"])
        for b in requests
        if b["input_type"] == "query"
    ]
    assert query == [("voyage-4", 1024)]
    documents = {
        (b["model"], b["output_dimension"])
        for b in requests
        if b["input_type"] == "document"
    }
    assert documents == {("voyage-4", 1024), ("voyage-3-large", 512)}
    assert set(_vector_counts(memo)) == {"voyage-4/1024", "voyage-3-large/512"}

    assert spaces.space_build(space_id=building.pk).state == "active"
    fake_voyage.requests.clear()
    assert "vacation" in _dense_texts(handbook, "paid vacation days")[0]
    (body,) = [r.body for r in fake_voyage.requests if r.path == "/v1/embeddings"]
    assert (body["model"], body["output_dimension"], body["input_type"]) == (
        "voyage-3-large",
        512,
        "query",
    )


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_switches_while_search_keeps_working(
    broker: str, user: Any, settings: Any
) -> None:
    handbook = ingested(user, "handbook.md", HANDBOOK.encode())
    for index in range(20):
        memo = MEMO.replace("Lisbon", f"Porto{index}")
        ingested(user, f"memo{index}.md", memo.encode())
    settings.EMBEDDING_DIMENSIONS = 256
    # Small batches and one-second slices: the build re-queues itself many times.
    process = start_worker(
        settings,
        broker,
        env={"EMBEDDING_BUILD_BATCH": "2", "EMBEDDING_BUILD_SLICE_S": "1"},
    )
    try:
        summary = spaces.spaces_reconcile()
        assert summary["building"] == "offline-lexical-v2/256"
        widths = set()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            vector = get_embedder().embed_query("paid vacation days")
            widths.add(len(vector))
            assert "vacation" in _dense_texts(handbook, "paid vacation days")[0]
            if EmbeddingSpace.objects.filter(
                name="offline-lexical-v2/256", status="active"
            ).exists():
                break
            time.sleep(0.05)
        else:
            raise AssertionError(list(EmbeddingSpace.objects.values()))
    finally:
        stop_worker(process)
    assert len(get_embedder().embed_query("paid vacation days")) == 256
    assert "vacation" in _dense_texts(handbook, "paid vacation days")[0]
    assert 1024 in widths


def test_an_install_on_the_first_offline_embedder_moves_to_the_newest(
    user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Installed before offline-lexical-v2 existed: its active space is v1.
    with monkeypatch.context() as patch:
        patch.setattr(OfflineEmbedder, "name", "offline-lexical-v1")
        handbook = ingested(user, "handbook.md", HANDBOOK.encode())
    old = EmbeddingSpace.objects.get(status="active")
    assert old.name == "offline-lexical-v1/1024"

    summary = spaces.spaces_reconcile(enqueue=False)
    assert summary["building"] == "offline-lexical-v2/1024"
    new = EmbeddingSpace.objects.get(status="building")
    # Until v2 is complete, queries are embedded with v1 and find v1's vectors.
    assert get_embedder().name == old.name
    assert "vacation" in _dense_texts(handbook, "paid vacation days")[0]

    assert spaces.space_build(space_id=new.pk).state == "active"
    assert get_embedder().name == "offline-lexical-v2/1024"
    assert "vacation" in _dense_texts(handbook, "paid vacation days")[0]


def test_the_header_names_the_space_search_uses_and_the_switch(
    web: Any, user: Any, settings: Any
) -> None:
    ingested(user, "handbook.md", HANDBOOK.encode())
    page = web.get("/documents/").content.decode()
    assert "offline lexical embedder (offline-lexical-v2/1024)" in page
    assert 'data-role="embedding-switch"' not in page

    # A key and a model arrive: until Voyage's space is built, search (and the
    # header) stay offline, and the header says a re-embed is under way.
    settings.VOYAGE_API_KEY = "pa-test"
    settings.EMBEDDING_MODEL = "voyage-3.5"
    spaces.spaces_reconcile(enqueue=False)
    page = web.get("/documents/").content.decode()
    assert "Offline embeddings" in page
    assert 'data-role="embedding-switch"' in page
    assert "re-embedding into voyage-3.5/1024" in page


ACME = (
    "# Annual report\n\n"
    "Acme Corporation makes anvils and rockets for desert customers.\n\n"
    "## Results\n\n"
    "Revenue grew fifteen percent in the second quarter.\n"
)
GLOBEX = (
    "# Annual report\n\n"
    "Globex Incorporated builds harbour cranes for northern ports.\n\n"
    "## Results\n\n"
    "Revenue grew three percent in the second quarter.\n"
)


def _inputs(document: Document) -> list[str]:
    """What each of a document's chunks is embedded as, in reading order."""
    return [
        spaces.embedding_input(
            title=chunk.search_title or document.title,
            heading=chunk.heading,
            context=chunk.context,
            text=chunk.text,
        )
        for chunk in document.chunks.order_by("ordinal")
    ]


def _contextual_bodies(fake_voyage: FakeVoyage) -> list[Any]:
    return [
        r.body for r in fake_voyage.requests if r.path == "/v1/contextualizedembeddings"
    ]


def test_a_contextual_space_is_built_whole_documents_at_a_time_and_searched(
    online: Any, user: Any, fake_voyage: FakeVoyage, settings: Any
) -> None:
    settings.EMBEDDING_BUILD_BATCH = 1
    acme = ingested(user, "report-a.md", ACME.encode())
    globex = ingested(user, "report-b.md", GLOBEX.encode())
    assert acme.chunks.count() >= 2 and globex.chunks.count() >= 2
    # Plain voyage-4 vectors: Acme's results never name Acme, so they lose.
    assert "fifteen" not in _dense_texts(acme, "Acme revenue in the second quarter")[0]

    settings.EMBEDDING_MODEL = "voyage-context-3"
    assert spaces.spaces_reconcile(enqueue=False)["building"] == (
        "voyage-context-3/1024"
    )
    building = EmbeddingSpace.objects.get(status="building")
    fake_voyage.requests.clear()
    # A batch of one chunk still takes the whole first document, as one input.
    assert spaces.space_build(space_id=building.pk, max_batches=1).state == "more"
    (body,) = _contextual_bodies(fake_voyage)
    first, second = sorted([acme, globex], key=lambda document: document.id)
    assert body["inputs"] == [_inputs(first)]
    assert body["input_type"] == "document"
    assert _vector_counts(first)["voyage-context-3/1024"] == first.chunks.count()
    assert "voyage-context-3/1024" not in _vector_counts(second)
    # Until the space is complete, queries stay with voyage-4.
    fake_voyage.requests.clear()
    _dense_texts(acme, "Acme revenue in the second quarter")
    assert not _contextual_bodies(fake_voyage)

    assert spaces.space_build(space_id=building.pk).state == "active"
    assert health.modes()["embeddings"] == (
        "Voyage contextualized chunk embeddings (voyage-context-3/1024)"
    )
    fake_voyage.requests.clear()
    assert "fifteen" in _dense_texts(acme, "Acme revenue in the second quarter")[0]
    (query,) = _contextual_bodies(fake_voyage)
    assert query["inputs"] == [["Acme revenue in the second quarter"]]
    assert (query["input_type"], query["output_dimension"]) == ("query", 1024)

    # A document ingested now is embedded whole, in one input.
    fake_voyage.requests.clear()
    memo = ingested(user, "memo.md", MEMO.encode())
    (body,) = _contextual_bodies(fake_voyage)
    assert body["inputs"] == [_inputs(memo)]
    assert _vector_counts(memo) == {"voyage-context-3/1024": memo.chunks.count()}
    assert "Lisbon" in _dense_texts(memo, "Lisbon train tickets")[0]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_builds_a_contextual_space_in_the_background(
    online: Any, broker: str, user: Any, fake_voyage: FakeVoyage, settings: Any
) -> None:
    acme = ingested(user, "report-a.md", ACME.encode())
    globex = ingested(user, "report-b.md", GLOBEX.encode())
    for index in range(3):
        ingested(
            user, f"memo{index}.md", MEMO.replace("Lisbon", f"Porto{index}").encode()
        )
    settings.EMBEDDING_MODEL = "voyage-context-3"
    process = start_worker(
        settings,
        broker,
        env={
            "VOYAGE_API_KEY": "test-key",
            "VOYAGE_BASE_URL": fake_voyage.base_url,
            "EMBEDDING_MODEL": "voyage-context-3",
            "EMBEDDING_BUILD_BATCH": "2",
            "EMBEDDING_BUILD_SLICE_S": "1",
        },
    )
    try:
        assert spaces.spaces_reconcile()["building"] == "voyage-context-3/1024"
        deadline = time.monotonic() + 120
        while not EmbeddingSpace.objects.filter(
            name="voyage-context-3/1024", status="active"
        ).exists():
            assert time.monotonic() < deadline, list(EmbeddingSpace.objects.values())
            # Search keeps working on voyage-4 meanwhile.
            assert "Porto" not in _dense_texts(globex, "Globex cranes")[0]
            time.sleep(0.2)
    finally:
        stop_worker(process)
    built = _contextual_bodies(fake_voyage)
    sent = [window for body in built for window in body["inputs"]]
    assert _inputs(acme) in sent and _inputs(globex) in sent
    assert "fifteen" in _dense_texts(acme, "Acme revenue in the second quarter")[0]
    assert get_embedder().name == "voyage-context-3/1024"
