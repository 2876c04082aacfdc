"""Embedding spaces: which model and width the vectors are in, and switching them.

Settings EMBEDDING_MODEL and EMBEDDING_DIMENSIONS name the desired space.
`spaces_reconcile()` (beat task every minute, and `manage.py embeddings_switch`)
compares it with the active space; when they differ it creates a building
space and queues `embeddings_build_task`, which re-embeds every chunk in
batches, then builds the space's own partial HNSW index over the filled
space (much faster than growing it row by row). Queries keep using the
active space until the building one has a vector for every chunk and its
index; then one transaction makes it active and retires the old one, whose
vectors and index are purged later.

Locking: ingestion writes a document's vectors while holding FOR SHARE on the
live (active and building) space rows, and activation takes FOR UPDATE on the
same rows, so a document stored during a switch is either seen by the
activation's completeness check or written after it, for the new spaces.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from documents import queue
from documents.ingestion import bulk
from documents.ingestion.locks import space_lock
from documents.models import Chunk, ChunkVector, EmbeddingSpace
from documents.remote.embeddings import (
    Embedder,
    OfflineEmbedder,
    embedder_for_model,
    is_offline_model,
)

log = logging.getLogger(__name__)
Status = EmbeddingSpace.Status
LIVE = (Status.ACTIVE, Status.BUILDING)


class SpaceUnavailable(Exception):
    """The space's model cannot be called here (a Voyage model without a key)."""


def desired_key() -> tuple[str, int]:
    """The (model, dimensions) the settings ask for; offline without a Voyage key."""
    model = (
        settings.EMBEDDING_MODEL if settings.VOYAGE_API_KEY else OfflineEmbedder.name
    )
    return model, int(settings.EMBEDDING_DIMENSIONS)


def active_key() -> tuple[str, int] | None:
    """The (model, dimensions) of the active space, if there is one yet."""
    space = active_space()
    return (space.model, space.dimensions) if space is not None else None


def space_name(model: str, dimensions: int) -> str:
    return f"{model}/{dimensions:d}"


def embedder_for(space: EmbeddingSpace) -> Embedder:
    """The embedder that produces this space's vectors."""
    if not is_offline_model(space.model) and not settings.VOYAGE_API_KEY:
        raise SpaceUnavailable(f"{space.name} needs VOYAGE_API_KEY")
    return embedder_for_model(space.model, space.dimensions)


def active_space() -> EmbeddingSpace | None:
    """The space queries use, if there is one yet."""
    return EmbeddingSpace.objects.filter(status=Status.ACTIVE).first()


def ensure_active_space() -> EmbeddingSpace:
    """The active space; on a fresh install, the desired one made active at once."""
    space = active_space()
    if space is not None:
        return space
    model, dimensions = desired_key()
    try:
        with transaction.atomic():
            space, _ = EmbeddingSpace.objects.get_or_create(
                name=space_name(model, dimensions),
                defaults={"model": model, "dimensions": dimensions},
            )
            EmbeddingSpace.objects.filter(pk=space.pk).update(
                status=Status.ACTIVE, activated=timezone.now(), purged=None
            )
    except IntegrityError:
        # Another process made a space active first; use theirs.
        return EmbeddingSpace.objects.get(status=Status.ACTIVE)
    space.refresh_from_db()
    create_index(space)
    if Chunk.objects.exists():
        # Chunks from before spaces existed: give them vectors in this one.
        queue.send_on_commit(queue.EMBEDDINGS_BUILD, space.pk)
    return space


def create_index(space: EmbeddingSpace) -> None:
    """The space's partial HNSW index on its own fixed width.

    Built CONCURRENTLY when not inside a transaction, so ingestion keeps writing
    (and search keeps reading) while an index is built over a large table.
    """
    concurrently = "" if connection.in_atomic_block else "CONCURRENTLY "
    with connection.cursor() as cursor:
        if connection.in_atomic_block:
            # Inside a transaction that wrote vectors, their deferred foreign
            # key checks must run first: Postgres refuses CREATE INDEX on a
            # table with pending trigger events.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        cursor.execute(
            f"CREATE INDEX {concurrently}IF NOT EXISTS {space.index_name} "
            f"ON documents_chunkvector USING hnsw "
            f"((embedding::vector({space.dimensions:d})) vector_cosine_ops) "
            f"WITH (m = 16, ef_construction = 64) WHERE space_id = {space.pk:d}"
        )


def ensure_index(space: EmbeddingSpace) -> None:
    """Build the space's index unless a valid one exists (a failed CONCURRENTLY
    build leaves an invalid one behind, which is dropped and built again)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = "
            "i.indexrelid WHERE c.relname = %s",
            [space.index_name],
        )
        row = cursor.fetchone()
    if row is not None and row[0]:
        return
    if row is not None:
        drop_index(space)
    create_index(space)


def drop_index(space: EmbeddingSpace) -> None:
    concurrently = "" if connection.in_atomic_block else "CONCURRENTLY "
    with connection.cursor() as cursor:
        if connection.in_atomic_block:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        cursor.execute(f"DROP INDEX {concurrently}IF EXISTS {space.index_name}")


def lock_live_spaces() -> list[EmbeddingSpace]:
    """Inside a transaction: the live spaces, held FOR SHARE until it ends."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM documents_embeddingspace WHERE status IN (%s, %s) "
            "ORDER BY id FOR SHARE",
            list(LIVE),
        )
        ids = [row[0] for row in cursor.fetchall()]
    return list(EmbeddingSpace.objects.filter(pk__in=ids).order_by("pk"))


def live_spaces() -> list[EmbeddingSpace]:
    """The spaces new chunks need vectors in: the active one and any being built."""
    ensure_active_space()
    return list(EmbeddingSpace.objects.filter(status__in=LIVE).order_by("pk"))


# Ingestion ------------------------------------------------------------------


def embed_for_live_spaces(
    texts: Sequence[str],
    store: Callable[[dict[int, list[list[float]]], list[EmbeddingSpace]], None],
    *,
    on_batch: Callable[[int, int], None] | None = None,
) -> list[EmbeddingSpace]:
    """Embed one document's texts in every live space, then store them under locks.

    texts are the document's chunks in reading order (a contextual space embeds
    them together). store(vectors_by_space, spaces) runs inside a transaction
    holding FOR SHARE on the live spaces, and only once vectors exist for each
    of them; if a switch began or finished while embedding, the missing space
    is embedded too and the check repeats. Returns the spaces written.
    """
    done: dict[int, list[list[float]]] = {}
    while True:
        wanted = [space for space in live_spaces() if space.pk not in done]
        total = (len(done) + len(wanted)) * len(texts)
        for space in wanted:
            done[space.pk] = embedder_for(space).embed_documents(
                texts,
                on_batch=_offset(on_batch, len(done) * len(texts), total),
                documents=[0] * len(texts),
            )
        with transaction.atomic():
            locked = lock_live_spaces()
            if locked and all(space.pk in done for space in locked):
                store({space.pk: done[space.pk] for space in locked}, locked)
                return locked


def _offset(
    on_batch: Callable[[int, int], None] | None, offset: int, total: int
) -> Callable[[int], None] | None:
    """Progress over all spaces: this space's count after the earlier ones'."""
    if on_batch is None:
        return None
    return lambda done: on_batch(offset + done, total)


# Building -------------------------------------------------------------------


@dataclass(frozen=True)
class BuildResult:
    """What one build task did: vectors written and whether the space is done."""

    written: int
    state: str  # "active", "more", "busy", "gone"


_MISSING_SQL = """
SELECT c.id, c.text, c.heading, c.context,
       coalesce(nullif(c.search_title, ''), d.title), c.document_id
FROM documents_chunk c JOIN documents_document d ON d.id = c.document_id
WHERE c.id > %s AND NOT EXISTS (
    SELECT 1 FROM documents_chunkvector v WHERE v.space_id = %s AND v.chunk_id = c.id
)
ORDER BY c.id
LIMIT %s
"""

# A contextual space's batch: whole documents, every chunk of each in reading
# order (those that already have a vector too, as their context), taking
# documents with a missing vector in id order while the chunks before them
# are fewer than the batch size (so at least one, however long). Documents
# are walked by their primary key, so a batch never scans the whole table.
_MISSING_DOCUMENTS_SQL = """
WITH candidates AS (
    SELECT d.id FROM documents_document d
    WHERE (%s::uuid IS NULL OR d.id > %s) AND EXISTS (
        SELECT 1 FROM documents_chunk c
        WHERE c.document_id = d.id AND NOT EXISTS (
            SELECT 1 FROM documents_chunkvector v
            WHERE v.space_id = %s AND v.chunk_id = c.id
        )
    )
    ORDER BY d.id LIMIT %s
), counted AS (
    SELECT k.id, sum(count(c.id)) OVER (ORDER BY k.id) - count(c.id) AS before
    FROM candidates k JOIN documents_chunk c ON c.document_id = k.id
    GROUP BY k.id
)
SELECT c.id, c.text, c.heading, c.context,
       coalesce(nullif(c.search_title, ''), d.title), c.document_id
FROM documents_chunk c JOIN documents_document d ON d.id = c.document_id
WHERE c.document_id IN (SELECT id FROM counted WHERE before < %s)
ORDER BY c.document_id, c.ordinal
"""


def embedding_input(*, title: str, heading: str, context: str, text: str) -> str:
    """What a chunk is embedded as: title › heading path, context, then its text.

    A question naming the company or section then finds passages that never
    repeat it.
    """
    return (
        " › ".join(part for part in (title, heading) if part)
        + "\n"
        + (context + "\n" if context else "")
        + text
    )


def space_build(
    *, space_id: int, budget_s: float | None = None, max_batches: int | None = None
) -> BuildResult:
    """Give the space vectors for chunks that lack one, for up to budget_s seconds.

    Activates a building space once every chunk has its vector. One builder
    per space at a time (advisory lock); a second returns "busy". max_batches
    bounds the work too (tests stop a build half way with it). A contextual
    space is built a few whole documents at a time, so each chunk is embedded
    with its document's other chunks.
    """
    budget = float(settings.EMBEDDING_BUILD_SLICE_S if budget_s is None else budget_s)
    with space_lock(space_id) as locked:
        if not locked:
            return BuildResult(0, "busy")
        space = EmbeddingSpace.objects.filter(pk=space_id, status__in=LIVE).first()
        if space is None:
            return BuildResult(0, "gone")
        embedder = embedder_for(space)
        deadline = time.monotonic() + budget
        # The cursor: the last chunk id, or for a contextual space the last
        # document id (a UUID; None before the first).
        start: Any = None if embedder.contextual else 0
        written, after, batches = 0, start, 0
        while time.monotonic() < deadline and (
            max_batches is None or batches < max_batches
        ):
            batch = _next_batch(space.pk, after, whole_documents=embedder.contextual)
            if not batch:
                if after == start:
                    break
                # One more pass from the start: chunks committed late with
                # lower ids than the last batch.
                after = start
                continue
            after = batch[-1][5] if embedder.contextual else batch[-1][0]
            batches += 1
            written += _embed_batch(space, embedder, batch)
        else:
            return BuildResult(written, "more")
        ensure_index(space)
        if space.status == Status.BUILDING and not space_activate(space_id=space.pk):
            return BuildResult(written, "more")
        EmbeddingSpace.objects.filter(pk=space.pk).update(error="")
        return BuildResult(written, "active")


def _missing(space_id: int, after: int) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(
            _MISSING_SQL, [after, space_id, int(settings.EMBEDDING_BUILD_BATCH)]
        )
        return list(cursor.fetchall())


def _next_batch(
    space_id: int, after: Any, *, whole_documents: bool
) -> list[tuple[Any, ...]]:
    """The next chunks to embed: after a chunk id, or whole documents after one."""
    if not whole_documents:
        return _missing(space_id, after)
    size = int(settings.EMBEDDING_BUILD_BATCH)
    with connection.cursor() as cursor:
        cursor.execute(_MISSING_DOCUMENTS_SQL, [after, after, space_id, size, size])
        return list(cursor.fetchall())


def _embed_batch(
    space: EmbeddingSpace, embedder: Embedder, batch: list[tuple[Any, ...]]
) -> int:
    texts = [
        embedding_input(title=title, heading=heading, context=context, text=text)
        for _, text, heading, context, title, _ in batch
    ]
    embedded = embedder.embed_documents(texts, documents=[row[5] for row in batch])
    vectors = dict(zip((row[0] for row in batch), embedded, strict=True))
    with transaction.atomic(), connection.cursor() as cursor:
        # Lock the chunks against deletion while their vectors go in, and skip
        # any deleted (document re-ingested or removed) since they were read.
        cursor.execute(
            "SELECT c.id, c.workspace_id, c.document_id FROM documents_chunk c "
            "WHERE c.id = ANY(%s) AND NOT EXISTS (SELECT 1 FROM "
            "documents_chunkvector v WHERE v.space_id = %s AND v.chunk_id = c.id) "
            "FOR KEY SHARE OF c",
            [list(vectors), space.pk],
        )
        return bulk.copy_vectors(
            bulk.VectorRow(
                chunk_id, space.pk, workspace_id, document_id, vectors[chunk_id]
            )
            for chunk_id, workspace_id, document_id in cursor.fetchall()
        )


def space_activate(*, space_id: int) -> bool:
    """Make a complete building space active and retire the old one, atomically."""
    with transaction.atomic():
        locked = {space.pk: space for space in lock_live_spaces_for_update()}
        space = locked.get(space_id)
        if space is None or space.status != Status.BUILDING:
            return False
        if _missing(space.pk, 0):
            return False
        now = timezone.now()
        EmbeddingSpace.objects.filter(pk__in=list(locked), status=Status.ACTIVE).update(
            status=Status.RETIRED, retired=now
        )
        EmbeddingSpace.objects.filter(pk=space.pk).update(
            status=Status.ACTIVE, activated=now, error=""
        )
    log.info("embedding space %s is active", space.name)
    return True


def lock_live_spaces_for_update() -> list[EmbeddingSpace]:
    """Inside a transaction: the live spaces, held FOR UPDATE until it ends."""
    return list(
        EmbeddingSpace.objects.select_for_update()
        .filter(status__in=LIVE)
        .order_by("pk")
    )


# Reconciling ----------------------------------------------------------------


def spaces_reconcile(*, enqueue: bool = True) -> dict[str, Any]:
    """Start, resume or cancel a switch to the desired space; purge retired ones."""
    active = ensure_active_space()
    model, dimensions = desired_key()
    name = space_name(model, dimensions)
    building = EmbeddingSpace.objects.filter(status=Status.BUILDING).first()
    if building is not None and building.name != name:
        # The settings changed again mid-build: abandon that build.
        EmbeddingSpace.objects.filter(pk=building.pk).update(
            status=Status.RETIRED, retired=timezone.now()
        )
        building = None
    if building is None and active.name != name:
        building = _start_building(model, dimensions)
    if building is not None and enqueue:
        queue.send_on_commit(queue.EMBEDDINGS_BUILD, building.pk)
    purged = spaces_purge()
    return {
        "active": active.name,
        "desired": name,
        "building": building.name if building else None,
        "purged": purged,
    }


def _start_building(model: str, dimensions: int) -> EmbeddingSpace:
    name = space_name(model, dimensions)
    with transaction.atomic():
        space, _ = EmbeddingSpace.objects.select_for_update().get_or_create(
            name=name, defaults={"model": model, "dimensions": dimensions}
        )
        # A retired space coming back keeps whatever vectors it still has.
        EmbeddingSpace.objects.filter(pk=space.pk).update(
            status=Status.BUILDING, retired=None, purged=None, error=""
        )
    space.refresh_from_db()
    # No index yet: HNSW inserts one by one are several times slower than one
    # build over the filled space, so the index is built just before activation.
    log.info("building embedding space %s", name)
    return space


def spaces_purge(*, older_than: timedelta | None = None) -> int:
    """Drop the vectors and index of spaces retired long enough ago."""
    keep = (
        timedelta(minutes=settings.EMBEDDING_RETIRED_KEEP_MINUTES)
        if older_than is None
        else older_than
    )
    due = EmbeddingSpace.objects.filter(
        status=Status.RETIRED, purged__isnull=True, retired__lte=timezone.now() - keep
    )
    count = 0
    for space_id in due.values_list("pk", flat=True):
        with transaction.atomic():
            # The row lock keeps a switch back to this space (_start_building
            # locks it too) from racing the delete.
            space = due.select_for_update().filter(pk=space_id).first()
            if space is None:
                continue
            ChunkVector.objects.filter(space=space).delete()
            # Last, so the table's exclusive lock is held only for a moment.
            drop_index(space)
            EmbeddingSpace.objects.filter(pk=space.pk).update(purged=timezone.now())
        count += 1
    return count


def space_progress(space: EmbeddingSpace) -> tuple[int, int]:
    """(chunks with a vector in the space, all chunks)."""
    return ChunkVector.objects.filter(space=space).count(), Chunk.objects.count()


def space_record_error(*, space_id: int, error: str) -> None:
    """Keep why a build failed, for the admin."""
    EmbeddingSpace.objects.filter(pk=space_id).update(error=error[:2000])


def building_space() -> EmbeddingSpace | None:
    """The space being built, if a switch is under way."""
    return EmbeddingSpace.objects.filter(status=Status.BUILDING).first()


# Queries ---------------------------------------------------------------------


class QueryVector(list[float]):
    """A query vector that knows its embedding space, so search never mixes spaces.

    space_id is None when no space can embed queries here (its model needs a
    key this process lacks); dense search then finds nothing instead of failing.
    """

    def __init__(self, values: Sequence[float], *, space_id: int | None) -> None:
        super().__init__(values)
        self.space_id = space_id


class SpaceQueryEmbedder:
    """The active space's embedder, for queries; vectors are tagged with the space."""

    def __init__(self, inner: Embedder | None, space_id: int | None, name: str):
        self._inner = inner
        self.space_id = space_id
        self.name = name

    def embed_documents(
        self,
        texts: Sequence[str],
        *,
        on_batch: Callable[[int], None] | None = None,
        documents: Sequence[object] | None = None,
    ) -> list[list[float]]:
        if self._inner is None:
            raise RuntimeError(f"{self.name} cannot embed here")
        return self._inner.embed_documents(
            texts, on_batch=on_batch, documents=documents
        )

    @property
    def contextual(self) -> bool:
        """Whether the space's embedder embeds a document's chunks together."""
        return self._inner is not None and self._inner.contextual

    @property
    def lexical(self) -> bool:
        """Whether the space's embedder is the offline one (it can use IDF)."""
        return isinstance(self._inner, OfflineEmbedder)

    def embed_query(
        self, text: str, *, idf: Mapping[str, float] | None = None
    ) -> list[float]:
        if self._inner is None:
            return QueryVector([], space_id=None)
        return QueryVector(
            self._inner.embed_query(text, idf=idf), space_id=self.space_id
        )


def get_embedder() -> Embedder:
    """The embedder for queries: the ACTIVE space's model and width.

    Not the desired one from settings: during a switch queries stay in the
    old space until the new one is complete.
    """
    space = ensure_active_space()
    try:
        inner: Embedder | None = embedder_for(space)
    except SpaceUnavailable:
        inner = None
    return SpaceQueryEmbedder(inner, space.pk if inner else None, space.name)
