"""The migration to embedding spaces keeps the vectors already stored."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("documents", "0004_merge_20261121_2143")]
AFTER = [("documents", "0005_embedding_spaces")]


def _migrate(targets: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_stored_vectors_become_the_active_space() -> None:
    old = _migrate(BEFORE)
    workspace = old.get_model("documents", "Workspace").objects.create(name="w")
    document = old.get_model("documents", "Document").objects.create(
        id=uuid.uuid4(),
        workspace=workspace,
        original="x.md",
        original_name="x.md",
        title="x",
        mime_type="text/markdown",
        sha256="0" * 64,
        size=1,
        status="ready",
        embedding_model="voyage-3.5",
    )
    with connection.cursor() as cursor:
        for ordinal in range(3):
            cursor.execute(
                "INSERT INTO documents_chunk (document_id, workspace_id, ordinal, "
                "text, start_char, end_char, heading, token_estimate, embedding) "
                "VALUES (%s, %s, %s, 'text', 0, 4, '', 1, %s::vector)",
                [
                    document.id,
                    workspace.id,
                    ordinal,
                    "["
                    + ",".join(["0"] * ordinal + ["1"] + ["0"] * (1023 - ordinal))
                    + "]",
                ],
            )
    new = _migrate(AFTER)
    space = new.get_model("documents", "EmbeddingSpace").objects.get()
    assert (space.name, space.model, space.dimensions, space.status) == (
        "voyage-3.5/1024",
        "voyage-3.5",
        1024,
        "active",
    )
    vectors = new.get_model("documents", "ChunkVector").objects.filter(space=space)
    assert vectors.count() == 3
    assert {v.document_id for v in vectors} == {document.id}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = %s",
            [f"chunkvector_space_{space.pk}_hnsw"],
        )
        (definition,) = cursor.fetchone()
    assert "vector(1024)" in definition and f"space_id = {space.pk}" in definition
    # Deleting chunks takes their vectors with them, in the database.
    new.get_model("documents", "Chunk").objects.all().delete()
    assert not vectors.all().exists()
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
