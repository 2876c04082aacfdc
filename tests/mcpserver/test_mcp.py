"""The MCP server, driven by the SDK's own client over stdio and streamable HTTP.

Stdio runs `manage.py mcp` as a client would; HTTP runs the web role's own
command (gunicorn, project/asgi.py) on the test database, so /mcp is served
the way `make run` serves it, beside Django's pages.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import psycopg
import pytest
from django.utils import timezone
from mcp import Client, ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from documents.api_auth import token_create
from documents.models import ApiToken, Document
from documents.services import workspace_default_for_user
from documents.teams.permissions import EDITOR
from mcpserver.http import McpEndpoint
from mcpserver.tools import ROLES, Credentials, build_server
from project import outage
from project.run import role_command
from tests.conftest import BASE_DIR, HANDBOOK, ingested, service_env
from tests.factories import join, make_user
from tests.pdfs import make_pdf
from tests.test_outage import SOCKET_ERROR, database_failing

pytestmark = pytest.mark.django_db(transaction=True)

PAGES = [
    ["Cairn field guide", "How hikers read the trail."],
    [
        "Stacked stones mark the summit path.",
        "Rangers rebuild a fallen marker within seven days.",
    ],
]
TOOLS = {"search", "ask", "list_documents", "get_document_text"}

Body = Callable[[ClientSession], Awaitable[Any]]


@dataclass
class Library:
    """Two workspaces: the owner's (with a viewer) and a stranger's."""

    owner: str
    viewer: str
    stranger: str
    report: Document
    handbook: Document
    secret: Document


@pytest.fixture
def library(transactional_db: None) -> Library:
    owner, viewer, stranger = make_user(), make_user(), make_user()
    report = ingested(owner, "guide.pdf", make_pdf(PAGES))
    handbook = ingested(owner, "handbook.md", HANDBOOK.encode())
    join(viewer, workspace_default_for_user(user=owner), "viewer")
    secret = ingested(
        stranger, "secret.md", b"# Summit\n\nThe summit path has stacked stones.\n"
    )
    assert report.status == handbook.status == secret.status == "ready"
    return Library(
        owner=token_create(user=owner),
        viewer=token_create(user=viewer),
        stranger=token_create(user=stranger),
        report=report,
        handbook=handbook,
        secret=secret,
    )


def over_stdio(token: str | None, body: Body, stderr: Path | None = None) -> Any:
    """Run `manage.py mcp` with the token in CAIRN_MCP_TOKEN; call body(session)."""
    env = service_env(tempfile.gettempdir(), "memory://")
    if token is not None:
        env["CAIRN_MCP_TOKEN"] = token
    params = StdioServerParameters(
        command=sys.executable, args=["manage.py", "mcp"], env=env, cwd=BASE_DIR
    )

    async def main() -> Any:
        with open(stderr or os.devnull, "w") as errlog:
            async with (
                stdio_client(params, errlog=errlog) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                return await body(session)

    return anyio.run(main)


async def http_session(url: str, headers: dict[str, str], body: Body) -> Any:
    """Connect to url with these headers; call body(session)."""
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        return await body(session)


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


async def call(session: ClientSession, tool: str, **arguments: Any) -> Any:
    """A tool's structured result; a tool error fails with its message."""
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return result.structured_content


async def refusal(session: ClientSession, tool: str, **arguments: Any) -> str:
    """A tool call that must fail; its message."""
    result = await session.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    return "".join(getattr(block, "text", "") for block in result.content)


async def tour(session: ClientSession, library: Library) -> dict[str, Any]:
    """Every tool once, as the owner or the viewer of the library's workspace."""
    listed = await session.list_tools()
    found = await call(session, "search", query="fallen marker rebuilt", top_k=3)
    answer = await call(session, "ask", question="How many days of paid vacation?")
    page = await call(session, "list_documents", per_page=1)
    second = await call(session, "list_documents", per_page=1, page=2)
    text = await call(
        session,
        "get_document_text",
        document_id=str(library.handbook.id),
        start=10,
        length=40,
    )
    return {
        "tools": {tool.name for tool in listed.tools},
        "search": found["results"],
        "answer": answer,
        "pages": [page, second],
        "text": text,
    }


def check_tour(seen: dict[str, Any], library: Library) -> None:
    assert seen["tools"] == TOOLS
    top = seen["search"][0]
    report = library.report
    assert top["document_id"] == str(report.id)
    assert top["document_title"] == report.title
    assert top["page"] == 2
    assert "seven days" in top["text"]
    assert report.text[top["start_char"] : top["end_char"]] == top["text"]

    answer = seen["answer"]
    assert answer["mode"] == "offline"
    assert "25 days" in answer["answer"]
    assert answer["citations"]
    handbook = library.handbook
    for citation in answer["citations"]:
        assert citation["document_id"] == str(handbook.id)
        cited = handbook.text[citation["start_char"] : citation["end_char"]]
        assert cited == citation["cited_text"]

    first, second = seen["pages"]
    assert first["total"] == 2
    assert first["next_page"] == 2
    assert second["next_page"] is None
    listed = {first["documents"][0]["id"], second["documents"][0]["id"]}
    assert listed == {str(report.id), str(handbook.id)}

    text = seen["text"]
    assert text["text"] == handbook.text[10:50]
    assert (text["start"], text["end"]) == (10, 50)
    assert text["total_chars"] == len(handbook.text)
    assert text["next_start"] == 50


async def stranger_view(session: ClientSession, library: Library) -> dict[str, Any]:
    """What a token of another workspace gets when it reaches for the library."""
    found = await call(session, "search", query="fallen marker stacked stones")
    listed = await call(session, "list_documents")
    read = await refusal(
        session, "get_document_text", document_id=str(library.report.id)
    )
    scoped = await call(
        session,
        "search",
        query="fallen marker",
        document_ids=[str(library.report.id)],
    )
    return {"found": found, "listed": listed, "read": read, "scoped": scoped}


def check_stranger(seen: dict[str, Any], library: Library) -> None:
    ids = {hit["document_id"] for hit in seen["found"]["results"]}
    assert ids == {str(library.secret.id)}
    assert [d["id"] for d in seen["listed"]["documents"]] == [str(library.secret.id)]
    assert "No such document" in seen["read"]
    assert seen["scoped"]["results"] == []


# stdio


def test_stdio_scopes_each_token_to_its_workspace(library: Library) -> None:
    check_tour(over_stdio(library.viewer, lambda s: tour(s, library)), library)
    check_stranger(
        over_stdio(library.stranger, lambda s: stranger_view(s, library)), library
    )

    async def tour_then_revoke(session: ClientSession) -> tuple[Any, str]:
        seen = await tour(session, library)
        await anyio.to_thread.run_sync(_revoke_all)
        return seen, await refusal(session, "search", query="stacked stones")

    seen, refused = over_stdio(library.owner, tour_then_revoke)
    check_tour(seen, library)
    # The token is checked on every call: revoked, it stops at once.
    assert "invalid or revoked" in refused


def _revoke_all() -> None:
    ApiToken.objects.update(revoked=timezone.now())


def test_stdio_refuses_a_missing_or_invalid_token(
    transactional_db: None, tmp_path: Path
) -> None:
    async def never(session: ClientSession) -> None:
        raise AssertionError("the session must not open")

    for token in (None, "cairn_not-a-real-token"):
        stderr = tmp_path / "stderr.txt"
        with pytest.raises(Exception) as failure:  # noqa: PT011
            over_stdio(token, never, stderr=stderr)
        assert not isinstance(failure.value, AssertionError)
        said = stderr.read_text()
        assert "The API token is missing, invalid or revoked" in said
        assert "$CAIRN_MCP_TOKEN" in said


# streamable HTTP, served by the web role


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture(scope="module")
def web(
    django_db_setup: Any, broker: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The web role's command (`python -m project.run --role web`) on a free port."""
    port = _free_port()
    env = (
        dict(os.environ)
        | service_env(str(tmp_path_factory.mktemp("media")), broker)
        | {"PORT": str(port), "WEB_CONCURRENCY": "1"}
    )
    log = tmp_path_factory.mktemp("web") / "web.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            role_command("web", env), cwd=BASE_DIR, env=env, stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if _get(base + "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_http_scopes_each_token_to_its_workspace(web: str, library: Library) -> None:
    url = web + "/mcp"
    # The stranger names the owner's workspace: as good as a made-up one.
    trespass = bearer(library.stranger) | {
        "X-Cairn-Workspace": str(library.report.workspace.code)
    }
    seen: dict[str, Any] = {}

    async def main() -> None:
        async def run(name: str, headers: dict[str, str], body: Body) -> None:
            seen[name] = await http_session(url, headers, body)

        # At once: the one web process answers them side by side.
        async with anyio.create_task_group() as group:
            group.start_soon(
                run, "owner", bearer(library.owner), lambda s: tour(s, library)
            )
            group.start_soon(
                run, "viewer", bearer(library.viewer), lambda s: tour(s, library)
            )
            group.start_soon(
                run,
                "stranger",
                bearer(library.stranger),
                lambda s: stranger_view(s, library),
            )
            group.start_soon(
                run, "trespass", trespass, lambda s: refusal(s, "list_documents")
            )

    anyio.run(main)
    check_tour(seen["owner"], library)
    check_tour(seen["viewer"], library)
    check_stranger(seen["stranger"], library)
    assert "No such workspace" in seen["trespass"]


def test_http_refuses_a_missing_or_invalid_token_and_a_foreign_host(
    web: str, transactional_db: None
) -> None:
    async def never(session: ClientSession) -> None:
        raise AssertionError("the session must not open")

    for token in (None, "cairn_not-a-real-token"):
        with pytest.raises(Exception) as failure:  # noqa: PT011
            anyio.run(http_session, web + "/mcp", bearer(token), never)
        assert not isinstance(failure.value, AssertionError)

        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        request = urllib.request.Request(
            web + "/mcp", data=b"{}", headers=headers | bearer(token), method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 401
        assert refused.value.headers["WWW-Authenticate"].startswith("Bearer")

    # A name outside ALLOWED_HOSTS (a DNS-rebinding page's) is refused first.
    status, _ = _get(web + "/mcp", {"Host": "evil.example"})
    assert status == 400


def test_web_role_still_serves_django_and_streams_answers(web: str, user: Any) -> None:
    ingested(user, "handbook.md", HANDBOOK.encode())
    assert _get(web + "/login/")[0] == 200
    request = urllib.request.Request(
        web + "/api/v1/ask",
        data=json.dumps({"question": "How many days of paid vacation?"}).encode(),
        headers={
            "Authorization": f"Bearer {token_create(user=user)}",
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        events = [
            line.removeprefix(b"event: ").decode()
            for line in response.read().splitlines()
            if line.startswith(b"event: ")
        ]
    assert events[0] == "start"
    assert "citation" in events
    assert events[-1] == "done"


# in process: the SDK's in-memory client on the server object


def in_process(token: str, tool: str, server: Any = None, **arguments: Any) -> Any:
    """One tool call through the SDK's in-memory client, as a stdio caller."""

    async def main() -> Any:
        target = server or build_server(Credentials(token))
        async with Client(target) as client:
            return await client.call_tool(tool, arguments)

    return anyio.run(main)


def test_a_tool_without_a_role_is_refused_to_everyone(user: Any) -> None:
    def purge() -> str:
        """A write tool someone forgot to give a role."""
        return "purged"

    token = token_create(user=user)
    server = build_server(Credentials(token))
    server.add_tool(purge)
    result = in_process(token, "purge", server=server)
    assert result.is_error
    assert "has no role" in result.content[0].text
    assert in_process(token, "list_documents").structured_content["total"] == 0


def test_a_database_outage_is_said_without_the_drivers_message(user: Any) -> None:
    token = token_create(user=user)
    with database_failing(psycopg.OperationalError(SOCKET_ERROR)):
        result = in_process(token, "search", query="vacation")
        status, headers, body = anyio.run(_post_mcp, token)
    assert result.is_error
    assert result.content[0].text == outage.MESSAGE
    assert status == 503
    assert headers[b"retry-after"] == b"5"
    assert json.loads(body)["error"]["type"] == "service_unavailable"
    assert b"/srv/secret" not in body


async def _post_mcp(
    token: str, extra: tuple[tuple[bytes, bytes], ...] = ()
) -> tuple[int, dict[bytes, bytes], bytes]:
    """A POST to /mcp straight into the ASGI app; its status, headers and body."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/mcp",
        "raw_path": b"/mcp",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
            *extra,
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await McpEndpoint()(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(
        m.get("body", b"") for m in sent if m["type"] == "http.response.body"
    )
    return start["status"], dict(start["headers"]), body


def test_under_https_settings_plain_http_is_refused_before_the_token(
    user: Any, settings: Any
) -> None:
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    status, _headers, body = anyio.run(_post_mcp, "not-a-token")
    assert status == 403
    assert json.loads(body)["error"]["type"] == "https_required"
    # Through the TLS proxy (its header, as Django reads it) the token is checked.
    forwarded = ((b"x-forwarded-proto", b"https"),)
    status, headers, _body = anyio.run(_post_mcp, "not-a-token", forwarded)
    assert status == 401 and b"www-authenticate" in headers


# roles


def test_every_tool_has_a_role() -> None:
    async def names() -> set[str]:
        return {tool.name for tool in await build_server().list_tools()}

    assert anyio.run(names) == set(ROLES) == TOOLS


def test_the_role_gate_keeps_a_write_tool_from_a_viewer(
    user: Any, workspace: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def purge() -> str:
        """A write tool, for editors."""
        return "purged"

    monkeypatch.setitem(ROLES, "purge", EDITOR)
    viewer = make_user()
    join(viewer, workspace, "viewer")

    def call_as(member: Any) -> Any:
        token = token_create(user=member)
        server = build_server(Credentials(token))
        server.add_tool(purge)
        return in_process(token, "purge", server=server)

    refused = call_as(viewer)
    assert refused.is_error
    assert "needs the editor role" in refused.content[0].text
    assert call_as(user).structured_content == {"result": "purged"}
