"""The services suite runs on standard servers, as an ordinary database role.

`make test-services` (scripts/test-services) starts PostgreSQL, Redis and
PgBouncer under ./var/services and runs this folder with the ingestion,
retrieval, answering and worker-crash tests against them, first straight to
PostgreSQL, then through PgBouncer in transaction mode (DATABASE_POOLER).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from search.retrieval import chunk_search
from tests.conftest import HANDBOOK, ingested

pytestmark = pytest.mark.services


def _one(sql: str, params: list[Any] | None = None) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        row = cursor.fetchone()
    assert row is not None
    return row[0]


def test_it_runs_on_standard_servers_not_the_embedded_ones(db: None) -> None:
    assert not settings.EMBEDDED_DATABASE and not settings.EMBEDDED_BROKER
    assert settings.DATABASES["default"]["HOST"] == "127.0.0.1"
    assert settings.CELERY_BROKER_URL.startswith("redis://:")


def test_migrations_ran_as_a_role_that_is_no_superuser(db: None) -> None:
    """The superuser created the vector extension once; the app role did the rest."""
    assert _one("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") is False
    assert _one("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    owner = _one(
        "SELECT pg_get_userbyid(datdba) FROM pg_database "
        "WHERE datname = current_database()"
    )
    assert owner == _one("SELECT current_user")
    applied = MigrationRecorder.Migration.objects.filter(app="documents")
    assert applied.filter(name="0001_initial").exists()
    assert applied.count() >= 10


def test_the_pooler_setting_matches_the_connection(db: None) -> None:
    """Behind PgBouncer the server's port is not the one Django dialled."""
    pooled = settings.DATABASE_POOLER == "transaction"
    server_port = _one("SELECT inet_server_port()")
    assert (str(server_port) != str(settings.DATABASES["default"]["PORT"])) is pooled
    assert settings.DATABASES["default"].get("DISABLE_SERVER_SIDE_CURSORS", False) is (
        pooled
    )


def test_a_search_leaves_no_session_setting_behind(
    transactional_db: None, user: Any
) -> None:
    """hnsw.ef_search and the planner switches are SET LOCAL: they end with the
    search's own transaction, so no later request on a pooled connection
    inherits them."""
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    assert document.status == "ready", document.error
    hits = chunk_search(
        workspace_id=document.workspace_id, query="paid vacation days", top_k=3
    )
    assert hits and hits[0].document_id == str(document.id)
    for _ in range(3):  # behind PgBouncer, likely on other server connections too
        assert _one("SELECT current_setting('hnsw.ef_search', true)") in (None, "40")
        assert _one("SHOW enable_seqscan") == "on"
    assert _one("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == 0
