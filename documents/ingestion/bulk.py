"""Bulk writes of chunks with their vectors through PostgreSQL's binary COPY.

One COPY stream instead of INSERTs: no SQL to parse per row and no text
rendering of 1024 floats, which is what made per-row inserts slow. Chunk ids
are reserved from the sequence in one query first, so the chunks and their
vectors (one row per embedding space) go in as two COPY streams.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db import connection

_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_TRAILER = struct.pack(">h", -1)
_NULL = struct.pack(">i", -1)
COLUMNS = (
    "id",
    "document_id",
    "workspace_id",
    "ordinal",
    "text",
    "start_char",
    "end_char",
    "page",
    "heading",
    "context",
    "search_title",
    "token_estimate",
)
_SQL = f"COPY documents_chunk ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)"
VECTOR_COLUMNS = ("chunk_id", "space_id", "workspace_id", "document_id", "embedding")
_VECTOR_SQL = (
    f"COPY documents_chunkvector ({', '.join(VECTOR_COLUMNS)}) FROM STDIN "
    "(FORMAT BINARY)"
)
# Rows are sent in blocks of this many bytes, bounding memory for huge documents.
_BLOCK = 4 * 1024 * 1024


@dataclass(frozen=True)
class ChunkRow:
    """One chunk as COPY writes it."""

    document_id: uuid.UUID
    workspace_id: int
    ordinal: int
    text: str
    start_char: int
    end_char: int
    page: int | None
    heading: str
    token_estimate: int
    # The chunk's vector in each embedding space it is written for, by space id.
    vectors: dict[int, list[float]] = field(default_factory=dict)
    context: str = ""
    search_title: str = ""


@dataclass(frozen=True)
class VectorRow:
    """One chunk's vector in one space, as COPY writes it."""

    chunk_id: int
    space_id: int
    workspace_id: int
    document_id: uuid.UUID
    embedding: list[float]


def _int4(value: int | None) -> bytes:
    return _NULL if value is None else struct.pack(">ii", 4, value)


def _text(value: str) -> bytes:
    data = value.encode()
    return struct.pack(">i", len(data)) + data


def _vector(values: list[float]) -> bytes:
    dim = len(values)
    # pgvector's binary input: int16 dimensions, int16 unused, float4 values.
    return struct.pack(f">ihh{dim}f", 4 + 4 * dim, dim, 0, *values)


def encode(row: ChunkRow, chunk_id: int) -> bytes:
    """One chunk tuple of the binary COPY format."""
    return b"".join(
        (
            struct.pack(">hiq", len(COLUMNS), 8, chunk_id),
            struct.pack(">i", 16),
            row.document_id.bytes,
            struct.pack(">iq", 8, row.workspace_id),
            _int4(row.ordinal),
            _text(row.text),
            _int4(row.start_char),
            _int4(row.end_char),
            _int4(row.page),
            _text(row.heading),
            _text(row.context),
            _text(row.search_title),
            _int4(row.token_estimate),
        )
    )


def encode_vector(row: VectorRow) -> bytes:
    """One vector tuple of the binary COPY format."""
    return b"".join(
        (
            struct.pack(
                ">hiqiq", len(VECTOR_COLUMNS), 8, row.chunk_id, 8, row.space_id
            ),
            struct.pack(">iqi", 8, row.workspace_id, 16),
            row.document_id.bytes,
            _vector(row.embedding),
        )
    )


def _blocks(tuples: Iterable[bytes]) -> Iterator[bytes]:
    buffer = [_HEADER]
    size = len(_HEADER)
    for data in tuples:
        buffer.append(data)
        size += len(data)
        if size >= _BLOCK:
            yield b"".join(buffer)
            buffer, size = [], 0
    buffer.append(_TRAILER)
    yield b"".join(buffer)


def reserve_chunk_ids(count: int) -> list[int]:
    """Take count ids from the chunk table's sequence in one query."""
    if count <= 0:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence('documents_chunk', 'id')) "
            "FROM generate_series(1, %s)",
            [count],
        )
        return [row[0] for row in cursor.fetchall()]


def _copy(sql: str, tuples: Iterable[bytes]) -> None:
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for block in _blocks(tuples):
            copy.write(block)


def copy_vectors(rows: Iterable[VectorRow]) -> int:
    """Insert vector rows with one binary COPY; return how many were written."""
    count = 0

    def encoded() -> Iterator[bytes]:
        nonlocal count
        for row in rows:
            count += 1
            yield encode_vector(row)

    _copy(_VECTOR_SQL, encoded())
    return count


def copy_chunks(rows: Iterable[ChunkRow]) -> int:
    """Insert chunk rows and their vectors with binary COPY; return chunks written."""
    listed = list(rows)
    ids = reserve_chunk_ids(len(listed))
    _copy(_SQL, (encode(row, id_) for row, id_ in zip(listed, ids, strict=True)))
    copy_vectors(
        VectorRow(id_, space_id, row.workspace_id, row.document_id, vector)
        for row, id_ in zip(listed, ids, strict=True)
        for space_id, vector in row.vectors.items()
    )
    return len(listed)
