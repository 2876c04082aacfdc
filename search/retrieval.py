"""Hybrid retrieval: pgvector HNSW, BM25 and the multimodal image space, by RRF."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection

from documents.ingestion.spaces import get_embedder
from documents.models import Chunk, EmbeddingSpace, ImageVector
from documents.remote import multimodal
from documents.remote.embeddings import OfflineEmbedder
from documents.remote.reranking import get_reranker
from project import metrics
from search import bm25

# One embedding space's vectors, through its partial HNSW index: the
# expression and the predicate are spelt exactly as in the index (space id and
# width are inlined integers), or the planner cannot use it.
_DENSE_SQL = """
SELECT chunk_id FROM documents_chunkvector
WHERE space_id = {space:d} AND workspace_id = %s
  AND (%s::uuid[] IS NULL OR document_id = ANY(%s::uuid[]))
ORDER BY embedding::vector({dimensions:d}) <=> %s::vector({dimensions:d})
LIMIT %s
"""


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with where it sits in its document."""

    chunk_id: int
    document_id: str
    document_title: str
    text: str
    score: float
    start_char: int
    end_char: int
    page: int | None
    ordinal: int


def vector_literal(vector: list[float]) -> str:
    """Render a vector as pgvector's text input."""
    return "[" + ",".join(f"{value:.7g}" for value in vector) + "]"


@functools.lru_cache(maxsize=64)
def _known_width(space_id: int) -> int | None:
    """A space's width; it never changes, so one lookup per process serves."""
    return (
        EmbeddingSpace.objects.filter(pk=space_id)
        .values_list("dimensions", flat=True)
        .first()
    )


def _space_width(space_id: Any) -> tuple[int, int] | None:
    """(id, width) of the space a query vector belongs to, or of the active one.

    A purged space keeps its cached width, but its rows and index are gone, so
    the search finds nothing rather than failing.
    """
    if space_id == "active":
        row = (
            EmbeddingSpace.objects.filter(
                status=EmbeddingSpace.Status.ACTIVE, purged__isnull=True
            )
            .values_list("pk", "dimensions")
            .first()
        )
        return (int(row[0]), int(row[1])) if row else None
    width = _known_width(int(space_id))
    return (int(space_id), width) if width is not None else None


def ef_search_for(limit: int) -> int:
    """HNSW's candidate list for `limit` rows: SEARCH_EF_SEARCH, and never under
    twice the rows wanted (with ef_search equal to the rows wanted, the scan
    misses many of the true nearest; pgvector caps it at 1000)."""
    return min(max(int(settings.SEARCH_EF_SEARCH), 2 * limit), 1000)


def dense_ids(
    workspace_id: int,
    vector: list[float],
    limit: int,
    document_ids: list[str] | None = None,
) -> list[int]:
    """Chunk ids nearest to vector by cosine, within one workspace.

    The vector is searched in the space it was embedded in (get_embedder()
    tags it), else in the active space; a vector of the wrong width for the
    space finds nothing rather than failing.
    """
    space_id = getattr(vector, "space_id", "active")
    space = _space_width(space_id) if space_id is not None else None
    if space is None or space[1] != len(vector):
        return []
    ef_search = ef_search_for(limit)
    # Iterative scans keep the workspace filter from starving the result: the
    # index is walked further until `limit` rows pass the filter. One simple-query
    # round trip: its statements share an implicit transaction, so SET LOCAL
    # holds for the SELECT and never leaks to the pooled connection.
    # Vectors live out of line (TOAST), so the planner prices scanning and
    # sorting a whole workspace far too low (measured 330 ms, against ~6 ms for
    # the HNSW index at 100k chunks); the index scan is the only path left, and
    # iterative scanning makes it complete for small workspaces too.
    sql = (
        "SET LOCAL enable_seqscan = off; SET LOCAL enable_sort = off; "
        "SET LOCAL hnsw.iterative_scan = relaxed_order; "
        f"SET LOCAL hnsw.ef_search = {ef_search:d}; "
        + _DENSE_SQL.format(space=space[0], dimensions=space[1])
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [workspace_id, document_ids, document_ids, vector_literal(vector), limit],
        )
        while cursor.description is None and cursor.nextset():
            pass
        return [row[0] for row in cursor.fetchall()]


def text_ids(
    workspace_id: int,
    query: str,
    limit: int,
    document_ids: list[str] | None = None,
    *,
    stats: bm25.TermStats | None = None,
) -> list[int]:
    """Chunk ids by BM25 over the workspace's own statistics, best first."""
    return [
        chunk_id
        for chunk_id, _ in bm25.bm25_ids(
            workspace_id, query, limit, document_ids, stats=stats
        )
    ]


_IMAGE_SQL = """
SELECT chunk_id FROM documents_imagevector
WHERE workspace_id = %s AND model = %s
  AND (%s::uuid[] IS NULL OR document_id = ANY(%s::uuid[]))
ORDER BY embedding <=> %s::vector
LIMIT %s
"""


def image_ids(
    workspace_id: int,
    query: str,
    limit: int,
    document_ids: list[str] | None = None,
) -> list[int]:
    """Chunk ids of the images (and rendered pages) nearest to the query in the
    multimodal space; [] without one, or in a workspace with no image vectors.

    Exact, not through an index: a workspace holds few images, and the
    query costs a Voyage call only where there is something to find.
    """
    if not multimodal.enabled():
        return []
    model = multimodal.model()
    found = ImageVector.objects.filter(workspace_id=workspace_id, model=model)
    if document_ids is not None:
        found = found.filter(document_id__in=document_ids)
    if not found.exists():
        return []
    vector = multimodal.embedder().embed_query(query)
    with connection.cursor() as cursor:
        cursor.execute(
            _IMAGE_SQL,
            [
                workspace_id,
                model,
                document_ids,
                document_ids,
                vector_literal(vector),
                limit,
            ],
        )
        return [row[0] for row in cursor.fetchall()]


def fuse(
    rankings: list[list[int]],
    *,
    k: int = 60,
    weights: list[float] | None = None,
) -> list[tuple[int, float]]:
    """Weighted reciprocal rank fusion: sum w/(k + rank) over the lists with an id."""
    scores: dict[int, float] = {}
    for index, ranking in enumerate(rankings):
        weight = 1.0 if weights is None else weights[index]
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))


def term_idf(workspace_id: int, query: str) -> dict[str, float]:
    """BM25's inverse document frequency of the query's words in this workspace.

    From the same statistics full-text ranking reads, so the lexical embedder
    stresses the words that tell this workspace's passages apart.
    """
    return bm25.word_idf(bm25.term_stats(workspace_id, query))


def query_vector(
    workspace_id: int, query: str, *, stats: bm25.TermStats | None = None
) -> list[float]:
    """Embed a query; the offline embedder weighs its terms by workspace IDF."""
    embedder = get_embedder()
    if isinstance(embedder, OfflineEmbedder) or getattr(embedder, "lexical", False):
        stats = stats or bm25.term_stats(workspace_id, query)
        return embedder.embed_query(query, idf=bm25.word_idf(stats))
    return embedder.embed_query(query)


def hybrid_ids(
    workspace_id: int,
    query: str,
    *,
    candidates: int | None = None,
    document_ids: list[str] | None = None,
) -> list[tuple[int, float]]:
    """Fused dense and full-text ranking of one workspace's chunks, best first."""
    limit = int(candidates or settings.SEARCH_CANDIDATES)
    # One statistics lookup serves the embedder's IDF and the BM25 ranking.
    stats = bm25.term_stats(workspace_id, query)
    vector = query_vector(workspace_id, query, stats=stats)
    named = title_named(workspace_id, query, document_ids)
    text, titled = bm25.bm25_rankings(
        workspace_id, query, limit, document_ids, within=named, stats=stats
    )
    rankings = [
        dense_ids(workspace_id, vector, limit, document_ids),
        [chunk_id for chunk_id, _ in text],
    ]
    weights = [float(settings.SEARCH_DENSE_WEIGHT), float(settings.SEARCH_TEXT_WEIGHT)]
    if titled:
        # Full text within the documents whose titles the query names best: a
        # question names the company and the year; a chunk on page 61 of the
        # filing names neither, and every other year's filing has that page.
        rankings.append([chunk_id for chunk_id, _ in titled])
        weights.append(float(settings.SEARCH_TITLE_WEIGHT))
    # Image documents by their multimodal vectors (empty without that space).
    images = image_ids(workspace_id, query, limit, document_ids)
    if images:
        rankings.append(images)
        weights.append(float(settings.SEARCH_IMAGE_WEIGHT))
    return fuse(rankings, k=int(settings.SEARCH_RRF_K), weights=weights)


def title_named(
    workspace_id: int, query: str, document_ids: list[str] | None = None
) -> list[str]:
    """Ids of the SEARCH_TITLE_DOCUMENTS documents whose titles match the query best."""
    count = int(settings.SEARCH_TITLE_DOCUMENTS)
    if count <= 0:
        return []
    named = bm25.title_documents(workspace_id, query, count, document_ids)
    return [document for document, _ in named]


@metrics.SEARCH_SECONDS.time()
def chunk_search(
    *,
    workspace_id: int,
    query: str,
    top_k: int,
    document_ids: list[str] | None = None,
) -> list[Hit]:
    """Return the best top_k chunks of one workspace for a query.

    document_ids, when given, limits the search to those documents (an empty
    list finds nothing); the filter is in the SQL, not applied afterwards.
    """
    query = query.strip()
    if not query or document_ids == []:
        return []
    fused = hybrid_ids(workspace_id, query, document_ids=document_ids)
    reranker = get_reranker()
    if reranker is None or len(fused) < 2:
        return fetch_hits(workspace_id, fused[:top_k])
    # The reranker reads the fused top candidates and decides the final order.
    hits = fetch_hits(workspace_id, fused[: int(settings.SEARCH_CANDIDATES)])
    order = reranker.rerank(query, [hit.text for hit in hits])
    return [hits[i] for i in order[:top_k]]


HIT_FIELDS = (
    "id",
    "document_id",
    "text",
    "start_char",
    "end_char",
    "page",
    "ordinal",
    "document__title",
)


def fetch_hits(workspace_id: int, fused: list[tuple[int, float]]) -> list[Hit]:
    if not fused:
        return []
    rows: dict[int, Any] = {
        chunk.id: chunk
        for chunk in Chunk.objects.filter(
            workspace_id=workspace_id, id__in=[chunk_id for chunk_id, _ in fused]
        )
        .select_related("document")
        # A document's whole text (megabytes for a filing) is not a hit's.
        .only(*HIT_FIELDS)
        # The fused order is applied below; the model's ordering would join
        # and sort on the document's creation time for nothing.
        .order_by()
    }
    return [
        Hit(
            chunk_id=chunk.id,
            document_id=str(chunk.document_id),
            document_title=chunk.document.title,
            text=chunk.text,
            score=round(score, 6),
            start_char=chunk.start_char,
            end_char=chunk.end_char,
            page=chunk.page,
            ordinal=chunk.ordinal,
        )
        for chunk_id, score in fused
        if (chunk := rows.get(chunk_id)) is not None
    ]


def default_top_k() -> int:
    """The configured number of chunks handed to the answerer."""
    return int(settings.SEARCH_TOP_K)
