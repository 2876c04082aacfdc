"""While the database is down, pages and the API answer 503, not a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest import mock

import psycopg
import pytest
from django.db import OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import Client, RequestFactory

from project.outage import database_unavailable, server_error

SOCKET_ERROR = (
    'connection failed: connection to server on socket "/srv/secret/.s.PGSQL.5432" '
    "failed: Connection refused"
)


def _django_error(cause: psycopg.Error) -> OperationalError:
    """An OperationalError as Django raises it: wrapping the driver's error."""
    try:
        raise OperationalError(*cause.args) from cause
    except OperationalError as exc:
        return exc


def database_failing(cause: psycopg.Error) -> Any:
    """Make every query fail with cause; undone before the test database's teardown.

    (monkeypatch would undo it too late: its fixture is set up before `db`.)
    """

    def ensure_connection(self: BaseDatabaseWrapper) -> None:
        raise _django_error(cause)

    return mock.patch.object(
        BaseDatabaseWrapper, "ensure_connection", ensure_connection
    )


@pytest.fixture
def database_down() -> Iterator[None]:
    """Every new query fails as if the server's socket refused connections."""
    with database_failing(psycopg.OperationalError(SOCKET_ERROR)):
        yield


def test_a_page_answers_a_small_503_page(web: Client, database_down: None) -> None:
    response = web.get("/documents/")
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert response["Retry-After"] == "5"
    assert b"cannot reach its database" in response.content
    assert b"secret" not in response.content


def test_the_api_answers_a_json_503(api: Client, database_down: None) -> None:
    response = api.get("/api/v1/documents")
    assert response.status_code == 503
    assert response.json() == {
        "error": {
            "type": "service_unavailable",
            "message": "The database is unavailable; try again in a moment.",
        }
    }


def test_healthz_names_the_state_without_the_error(
    db: None, broker: str, database_down: None
) -> None:
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"
    assert b"secret" not in response.content
    assert b"PGSQL" not in response.content


def test_a_cancelled_query_is_an_error_not_an_outage(api: Client) -> None:
    api.raise_request_exception = False
    with database_failing(psycopg.errors.QueryCanceled("statement timeout")):
        response = api.get("/api/v1/documents")
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "server_error"


@pytest.mark.parametrize(
    ("cause", "outage"),
    [
        (psycopg.OperationalError("server closed the connection unexpectedly"), True),
        (psycopg.errors.AdminShutdown("terminating connection"), True),
        (psycopg.errors.CannotConnectNow("the database system is starting up"), True),
        (psycopg.errors.QueryCanceled("canceling statement"), False),
        (psycopg.errors.DeadlockDetected("deadlock detected"), False),
    ],
)
def test_which_errors_are_an_outage(cause: psycopg.Error, outage: bool) -> None:
    assert database_unavailable(_django_error(cause)) is outage
    assert database_unavailable(ValueError("no")) is False


def test_the_500_handler_turns_an_outage_elsewhere_into_a_503(db: None) -> None:
    request: Any = RequestFactory().get("/documents/")
    try:
        raise _django_error(psycopg.OperationalError(SOCKET_ERROR))
    except OperationalError:
        response = server_error(request)
    assert response.status_code == 503
    assert b"secret" not in response.content
