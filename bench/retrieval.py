"""Retrieval latency: Cairn's dense search vs a plain psycopg HNSW query vs LangChain.

Synthetic chunks with random unit vectors are loaded with binary COPY (10k and
100k, settings.EMBEDDING_DIMENSIONS wide) into Cairn's own table, and the same
vectors into langchain-postgres's table. Each path answers the same 200 random
query vectors for the top 10; p50/p95 are per-query wall times in this process.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

SIZES = (10_000, 100_000)
QUERIES = 200
TOP_K = 10
WARMUP = 10


def _setup() -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _unit(rng: Any, count: int, dims: int) -> Any:
    import numpy as np

    vectors = rng.standard_normal((count, dims)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def _dsn() -> str:
    from django.conf import settings

    return str(settings.DATABASE_URL)


def _bench_space(dims: int) -> Any:
    """An active embedding space of the bench's width (the bench database only)."""
    from django.utils import timezone

    from documents.models import EmbeddingSpace

    name = f"bench/{dims}"
    EmbeddingSpace.objects.exclude(name=name).filter(
        status=EmbeddingSpace.Status.ACTIVE
    ).update(status=EmbeddingSpace.Status.RETIRED, retired=timezone.now())
    space, _ = EmbeddingSpace.objects.update_or_create(
        name=name,
        defaults={
            "model": "bench",
            "dimensions": dims,
            "status": EmbeddingSpace.Status.ACTIVE,
            "activated": timezone.now(),
        },
    )
    return space


def _release_bench_space() -> None:
    """Drop the synthetic chunks and retire the bench's space.

    Its model ("bench") can embed nothing, so left active it would fail the
    ingestion suite of the next `make bench`; the configured space comes back.
    """
    from django.utils import timezone

    from documents.models import EmbeddingSpace, Workspace

    Workspace.objects.filter(name__startswith="bench:").delete()
    EmbeddingSpace.objects.filter(
        model="bench", status=EmbeddingSpace.Status.ACTIVE
    ).update(status=EmbeddingSpace.Status.RETIRED, retired=timezone.now())


def _load_cairn(vectors: Any, size: int) -> tuple[int, Any]:
    """A workspace with one document and `size` chunks and their vectors."""
    import psycopg
    from django.db import connection

    from documents.ingestion import bulk
    from documents.ingestion.spaces import create_index, drop_index
    from documents.models import Document, Workspace

    Workspace.objects.filter(name__startswith="bench:").delete()
    with psycopg.connect(_dsn(), autocommit=True) as conn:
        # Rewrite the tables without earlier runs' deleted rows: a bloated heap
        # doubled the floor's p95 on a reused var/bench (21 ms against 10.6 ms).
        conn.execute("VACUUM FULL documents_chunkvector, documents_chunk")
    workspace = Workspace.objects.create(name=f"bench:{size}")
    document = Document.objects.create(
        workspace=workspace,
        original_name="synthetic.txt",
        title="synthetic",
        mime_type="text/plain",
        sha256="0" * 64,
        size=0,
        status=Document.Status.READY,
    )
    space = _bench_space(len(vectors[0]))
    # Building the index once after the load is far faster than growing it.
    drop_index(space)
    # The product's own binary COPY: chunks, then their vectors streamed row by
    # row (a list of 100k Python vectors would not fit in memory).
    bulk.copy_chunks(
        bulk.ChunkRow(
            document_id=document.id,
            workspace_id=workspace.id,
            ordinal=i,
            text=f"chunk {i}",
            start_char=0,
            end_char=1,
            page=None,
            heading="",
            token_estimate=1,
        )
        for i in range(size)
    )
    ids = list(document.chunks.order_by("ordinal").values_list("id", flat=True))
    bulk.copy_vectors(
        bulk.VectorRow(ids[i], space.pk, workspace.id, document.id, vectors[i].tolist())
        for i in range(size)
    )
    with connection.cursor() as cursor:
        # On the connection that builds the index (it was set on another one).
        cursor.execute("SET maintenance_work_mem = '1GB'")
        create_index(space)
        cursor.execute("ANALYZE documents_chunkvector")
    return int(workspace.id), space


class _Fixed:
    """A LangChain Embeddings stand-in: the vectors are given, never computed."""

    # The bench only calls similarity_search_by_vector and loads rows by COPY, so
    # LangChain never needs to embed; reaching these would be a bench bug.
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        raise RuntimeError("the retrieval bench gives LangChain its vectors")

    def embed_query(self, text: str) -> list[float]:
        raise RuntimeError("the retrieval bench gives LangChain its vectors")


def _load_langchain(vectors: Any, size: int) -> Any:
    """langchain-postgres's PGVector over the same vectors (its default schema)."""
    import psycopg
    from langchain_postgres import PGVector
    from pgvector.psycopg import register_vector
    from psycopg.types.json import Jsonb

    store = PGVector(
        embeddings=_Fixed(),
        connection=_dsn().replace("postgresql://", "postgresql+psycopg://", 1),
        collection_name=f"bench{size}",
        pre_delete_collection=True,
    )
    with psycopg.connect(_dsn(), autocommit=True) as conn:
        register_vector(conn)
        row = conn.execute(
            "SELECT uuid FROM langchain_pg_collection WHERE name = %s",
            [f"bench{size}"],
        ).fetchone()
        assert row is not None
        with conn.cursor().copy(
            "COPY langchain_pg_embedding (id, collection_id, embedding, document, "
            "cmetadata) FROM STDIN WITH (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["varchar", "uuid", "vector", "varchar", "jsonb"])
            for i in range(size):
                copy.write_row(
                    [str(uuid.uuid4()), row[0], vectors[i], f"chunk {i}", Jsonb({})]
                )
        conn.execute("ANALYZE langchain_pg_embedding")
    return store


def time_paths(
    paths: dict[str, Callable[[int], object]], count: int
) -> list[tuple[str, float, float]]:
    """p50/p95 per path; paths take turns on each query so noise hits all alike."""
    for index in range(WARMUP):
        for run in paths.values():
            run(index)
    samples: dict[str, list[float]] = {name: [] for name in paths}
    names = list(paths)
    order = random.Random(0)
    for index in range(count):
        # A fresh order per query: the path after LangChain's full scan meets
        # evicted caches, and that should not always be the same path.
        order.shuffle(names)
        for name in names:
            run = paths[name]
            started = time.perf_counter()
            run(index)
            samples[name].append((time.perf_counter() - started) * 1000)
    rows = []
    for name, values in samples.items():
        values.sort()
        rows.append(
            (name, statistics.median(values), values[int(0.95 * len(values)) - 1])
        )
    return rows


def run_size(
    size: int, dims: int, rng: Any, langchain: bool
) -> list[tuple[str, float, float]]:
    """Latency rows (path, p50 ms, p95 ms) at one corpus size."""
    import psycopg
    from pgvector.psycopg import register_vector

    from search.retrieval import dense_ids, ef_search_for

    vectors = _unit(rng, size, dims)
    queries = _unit(rng, QUERIES, dims)
    started = time.monotonic()
    workspace_id, space = _load_cairn(vectors, size)
    print(
        f"  loaded {size} chunks and built HNSW in {time.monotonic() - started:.0f} s"
    )
    ef_search = ef_search_for(TOP_K)
    listed = [[float(v) for v in q] for q in queries]
    store = None
    if langchain:
        started = time.monotonic()
        store = _load_langchain(vectors, size)
        print(f"  loaded LangChain's table in {time.monotonic() - started:.0f} s")
    with psycopg.connect(_dsn(), autocommit=True) as conn:
        register_vector(conn)
        conn.execute(f"SET hnsw.ef_search = {ef_search:d}")
        # Without this the planner prefers a parallel seq scan over TOASTed vectors.
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET enable_sort = off")
        width = int(space.dimensions)
        sql = (
            "SELECT chunk_id FROM documents_chunkvector "
            f"WHERE space_id = {int(space.pk):d} AND workspace_id = %s "
            f"ORDER BY embedding::vector({width:d}) <=> %s::vector({width:d}) "
            "LIMIT %s"
        )
        paths: dict[str, Callable[[int], object]] = {
            # prepare=False: a custom plan per query, as Cairn's client-side binding.
            "floor: psycopg + HNSW": lambda i: conn.execute(
                sql, [workspace_id, queries[i], TOP_K], prepare=False
            ).fetchall(),
            "cairn dense_ids": lambda i: dense_ids(workspace_id, listed[i], TOP_K),
        }
        if store is not None:
            paths["langchain PGVector"] = lambda i: store.similarity_search_by_vector(
                listed[i], k=TOP_K
            )
        rows = time_paths(paths, QUERIES)
    return rows


def _report(rows: list[tuple[str, float, float]]) -> bool:
    """Print one size's rows; whether they meet the goals."""
    ok = True
    floor = rows[0][2]
    for name, p50, p95 in rows:
        print(
            f"  {name:<24} p50 {p50:7.2f} ms   p95 {p95:7.2f} ms"
            f"   ({p95 / floor:.2f}x floor)"
        )
    cairn = rows[1][2]
    if cairn > 1.5 * floor:
        ok = False
        print("  goal missed: cairn p95 is over 1.5x the floor")
    if len(rows) > 2 and rows[2][2] < 5 * cairn:
        ok = False
        print("  goal missed: cairn is not 5x faster than LangChain at p95")
    return ok


def main(argv: list[str]) -> int:
    """Print p50/p95 retrieval latency per path and corpus size."""
    parser = argparse.ArgumentParser(prog="bench retrieval")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--no-langchain", action="store_true")
    args, _ = parser.parse_known_args(argv)
    import numpy as np

    _setup()
    from django.conf import settings

    dims = int(settings.EMBEDDING_DIMENSIONS)
    rng = np.random.default_rng(42)
    print(
        f"retrieval: top {TOP_K} of random {dims}-d unit vectors, {QUERIES} queries, "
        f"ef_search {settings.SEARCH_EF_SEARCH}"
    )
    ok = True
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            print(f"{size} chunks")
            ok = _report(run_size(size, dims, rng, not args.no_langchain)) and ok
    finally:
        _release_bench_space()
    # Goals are reported, not enforced: a slow machine should not fail `make bench`.
    print("retrieval goals met" if ok else "retrieval goals missed")
    return 0
