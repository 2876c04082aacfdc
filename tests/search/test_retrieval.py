"""Hybrid retrieval: weighted fusion, filtered HNSW scans, and the Voyage reranker."""

from __future__ import annotations

import random
from typing import Any

from django.db import connection, transaction

from documents.ingestion.spaces import ensure_active_space, get_embedder
from documents.models import Chunk, Workspace
from search.evaluation import store_vectors
from search.retrieval import (
    chunk_search,
    dense_ids,
    fuse,
    hybrid_ids,
    term_idf,
    text_ids,
    vector_literal,
)
from tests.factories import make_chunks
from tests.fakes.voyage import FakeVoyage


def _chunks(workspace: Workspace, texts: list[str], vectors: Any = None) -> list[int]:
    """One ready document per text, one chunk each; offline vectors unless given."""
    embedded = vectors or get_embedder().embed_documents(texts)
    chunks = make_chunks(workspace, texts)
    store_vectors(chunks, list(embedded))
    return [chunk.id for chunk in chunks]


def test_fusion_sums_reciprocal_ranks_and_honours_weights() -> None:
    dense, text = [1, 2, 3], [3, 2, 4]
    # 3: 1/63 + 1/61 just beats 2: 2/62; 1 and 4 appear once.
    assert [i for i, _ in fuse([dense, text], k=60)] == [3, 2, 1, 4]
    # Doubling the dense list's weight lifts what the dense side ranks high.
    assert [i for i, _ in fuse([dense, text], k=60, weights=[2.0, 1.0])] == [
        2,
        3,
        1,
        4,
    ]
    # k sets how much a lone first place counts against two later ranks.
    scores = dict(fuse([[1, 9], [2, 3, 4, 5, 6, 7, 8, 9]], k=60))
    assert scores[9] > scores[1]
    sharp = dict(fuse([[1, 9], [2, 3, 4, 5, 6, 7, 8, 9]], k=1))
    assert sharp[1] > sharp[9]


def test_a_chunk_both_rankings_agree_on_comes_first(db: None, settings: Any) -> None:
    workspace = Workspace.objects.create(name="w")
    ids = _chunks(
        workspace,
        [
            "Llamas graze on alpine meadows in the summer.",
            "The quarterly revenue of llamas grew by nine percent.",
            "Revenue recognition follows the delivery of goods.",
        ],
    )
    query = "llama revenue growth"
    fused = [i for i, _ in hybrid_ids(workspace.id, query)]
    assert fused[0] == ids[1]
    assert set(fused) == set(ids)
    # The configured weights decide: text-only weight is the full-text order.
    settings.SEARCH_DENSE_WEIGHT = 0.0
    only_text = [i for i, score in hybrid_ids(workspace.id, query) if score > 0]
    assert only_text == text_ids(workspace.id, query, 50)


def test_iterative_scan_fills_top_k_for_a_small_workspace_among_many(
    db: None, settings: Any
) -> None:
    rng = random.Random(7)
    dims = settings.EMBEDDING_DIMENSIONS

    def unit() -> list[float]:
        vector = [rng.gauss(0.0, 1.0) for _ in range(dims)]
        norm = sum(v * v for v in vector) ** 0.5
        return [v / norm for v in vector]

    crowd = Workspace.objects.create(name="crowd")
    _chunks(crowd, [f"crowd {i}" for i in range(1500)], [unit() for _ in range(1500)])
    small = Workspace.objects.create(name="small")
    mine = _chunks(small, [f"mine {i}" for i in range(6)], [unit() for _ in range(6)])
    query = unit()
    settings.SEARCH_EF_SEARCH = 20
    space = ensure_active_space()
    nearest = (
        f"SELECT chunk_id FROM documents_chunkvector WHERE space_id = {space.pk:d} "
        f"AND workspace_id = %s ORDER BY embedding::vector({dims:d}) "
        f"<=> %s::vector({dims:d}) LIMIT 5"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        # Make the planner use the HNSW index, as it does on a large table.
        # (the workspace_id btree plus an exact sort would win on a small one).
        for knob in ("seqscan", "bitmapscan", "sort"):
            cursor.execute(f"SET LOCAL enable_{knob} = off")
        cursor.execute("SET LOCAL hnsw.ef_search = 20")
        cursor.execute("SET LOCAL hnsw.iterative_scan = off")
        cursor.execute(nearest, [small.id, vector_literal(query)])
        starved = cursor.fetchall()
        cursor.execute("EXPLAIN " + nearest, [small.id, vector_literal(query)])
        assert space.index_name in str(cursor.fetchall())
        found = dense_ids(small.id, query, 5)
    # Without iterative scans the filter empties the index's candidate list.
    assert len(starved) < 5
    assert len(found) == 5 and set(found) <= set(mine)


def test_the_reranker_orders_the_fused_candidates(
    online: Any, db: None, fake_voyage: FakeVoyage, voyage_client: Any
) -> None:
    online.RERANK_MODEL = "rerank-2.5"
    workspace = Workspace.objects.create(name="w")
    texts = [
        "Invoices are paid within thirty days of receipt.",
        "Paid vacation: employees get 25 days of paid vacation per year.",
        "Vacation requests go to your manager.",
        "The office closes at six.",
    ]
    _chunks(workspace, texts)
    query = "how many days of paid vacation do employees get"
    hits = chunk_search(workspace_id=workspace.id, query=query, top_k=3)
    calls = [r for r in fake_voyage.requests if r.path == "/v1/rerank"]
    assert len(calls) == 1
    body = calls[0].body
    assert body["model"] == "rerank-2.5" and body["query"] == query
    fused_texts = [
        Chunk.objects.get(id=i).text for i, _ in hybrid_ids(workspace.id, query)
    ]
    assert body["documents"] == fused_texts
    expected = voyage_client.rerank(query, fused_texts, model="rerank-2.5")
    assert [h.text for h in hits] == [
        fused_texts[r.index] for r in expected.results[:3]
    ]


def test_no_rerank_model_means_no_rerank_call(
    online: Any, db: None, fake_voyage: FakeVoyage
) -> None:
    online.RERANK_MODEL = ""
    workspace = Workspace.objects.create(name="w")
    _chunks(workspace, ["Paid vacation is 25 days.", "Invoices take 30 days."])
    hits = chunk_search(workspace_id=workspace.id, query="vacation days", top_k=2)
    assert hits
    assert not [r for r in fake_voyage.requests if r.path == "/v1/rerank"]


def test_query_terms_are_weighted_by_the_workspace_idf(db: None) -> None:
    workspace = Workspace.objects.create(name="w")
    _chunks(
        workspace,
        [
            "Llamas eat grass in the valley.",
            "Llamas carry packs over passes.",
            "Llamas and glaciers share the valley.",
        ],
    )
    idf = term_idf(workspace.id, "llamas glaciers")
    # In every chunk versus in one: the rare word weighs more.
    assert idf["glacier"] > idf["llama"] > 0
    # The statistics follow every write at once: no cache to expire.
    _chunks(workspace, ["Glaciers everywhere."])
    after = term_idf(workspace.id, "llamas glaciers")
    assert after["glacier"] < idf["glacier"] and after["llama"] > idf["llama"]
