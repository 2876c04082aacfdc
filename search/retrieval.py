"""Hybrid retrieval: pgvector HNSW and Postgres full-text search, fused by RRF."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from documents.embeddings import get_embedder

RRF_K = 60
CANDIDATES = 50

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

# Any query word may match (OR), ranked by cover density; a question rarely
# has every one of its words in the passage that answers it.
_TEXT_SQL = """
WITH q AS (
    SELECT to_tsquery('english', coalesce(array_to_string(array(
        SELECT quote_literal(lexeme)
        FROM unnest(tsvector_to_array(to_tsvector('english', %s))) AS lexeme
    ), ' | '), '')) AS query
)
SELECT c.id FROM documents_chunk c, q
WHERE c.workspace_id = %s AND c.search_vector @@ q.query
  AND (%s::uuid[] IS NULL OR c.document_id = ANY(%s::uuid[]))
ORDER BY ts_rank_cd(c.search_vector, q.query, 1) DESC, c.id
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
    from documents.models import EmbeddingSpace

    space_id = getattr(vector, "space_id", "active")
    spaces = EmbeddingSpace.objects.filter(purged__isnull=True)
    space = (
        spaces.filter(status=EmbeddingSpace.Status.ACTIVE).first()
        if space_id == "active"
        else spaces.filter(pk=space_id).first()
        if space_id is not None
        else None
    )
    if space is None or space.dimensions != len(vector):
        return []
    sql = _DENSE_SQL.format(space=space.pk, dimensions=space.dimensions)
    with transaction.atomic(), connection.cursor() as cursor:
        # Iterative scans keep the workspace filter from starving the result:
        # the index is walked further until `limit` rows pass the filter.
        cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        ef_search = max(40, min(limit * 2, 400))
        cursor.execute(f"SET LOCAL hnsw.ef_search = {ef_search:d}")
        cursor.execute(
            sql,
            [workspace_id, document_ids, document_ids, vector_literal(vector), limit],
        )
        return [row[0] for row in cursor.fetchall()]


def text_ids(
    workspace_id: int, query: str, limit: int, document_ids: list[str] | None = None
) -> list[int]:
    """Chunk ids matching any query word, best full-text rank first."""
    with connection.cursor() as cursor:
        cursor.execute(
            _TEXT_SQL, [query, workspace_id, document_ids, document_ids, limit]
        )
        return [row[0] for row in cursor.fetchall()]


def fuse(rankings: list[list[int]], *, k: int = RRF_K) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: sum 1/(k + rank) over the lists an id appears in."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))


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
    vector = get_embedder().embed_query(query)
    fused = fuse(
        [
            dense_ids(workspace_id, vector, CANDIDATES, document_ids),
            text_ids(workspace_id, query, CANDIDATES, document_ids),
        ]
    )[:top_k]
    return _hits(workspace_id, fused)


def _hits(workspace_id: int, fused: list[tuple[int, float]]) -> list[Hit]:
    from documents.models import Chunk

    if not fused:
        return []
    rows: dict[int, Any] = {
        chunk.id: chunk
        for chunk in Chunk.objects.filter(
            workspace_id=workspace_id, id__in=[chunk_id for chunk_id, _ in fused]
        ).select_related("document")
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
