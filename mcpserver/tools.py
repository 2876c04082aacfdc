"""Cairn's MCP tools: search, ask, list_documents and get_document_text.

Each tool does what the REST API's operation does (search/api.py,
documents/api.py) through the same selectors and services, in one workspace.
`role_gate`, a server middleware, resolves the caller's token and workspace
(mcpserver/access.py) and checks the tool's role on every call, so a revoked
token or a changed role counts at once. The ORM runs in worker threads
(sync_to_async), never on the event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.db import InterfaceError, OperationalError, close_old_connections
from django.db.models.functions import Length, Substr
from django.http import Http404
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field
from starlette.requests import Request

from documents import selectors as document_selectors
from documents.api import DocumentOut
from documents.models import Document
from documents.teams.permissions import VIEWER
from mcpserver.access import AccessDenied, Principal, principal_for, require
from project import outage
from search import answering
from search import selectors as search_selectors
from search.api import Text
from search.retrieval import chunk_search
from search.schemas import AnswerOut, SearchHitOut, SearchOut

# The role each tool needs. A tool missing here is refused to everyone, so a
# write tool added later cannot slip past the role check.
ROLES: dict[str, str] = {
    "search": VIEWER,
    "ask": VIEWER,
    "list_documents": VIEWER,
    "get_document_text": VIEWER,
}
MAX_TEXT_CHARS = 50_000
PER_PAGE_MAX = 100

INSTRUCTIONS = (
    "Cairn is a team knowledge base. `search` finds passages (document id, page, "
    "character range); `ask` answers with citations; `get_document_text` reads "
    "any character range of a document's extracted text, which is what every "
    "start_char/end_char indexes."
)

T = TypeVar("T")


@dataclass(frozen=True)
class Credentials:
    """A raw API token and, optionally, the code of the workspace to act in."""

    token: str
    workspace_code: str | None = None


# The caller of the tool call in progress, set by role_gate around the tool.
_caller: ContextVar[Principal | None] = ContextVar("cairn_mcp_caller", default=None)


def _credentials(ctx: ServerRequestContext[Any, Any]) -> Credentials:
    """This call's credentials: the HTTP request's bearer token, or stdio's."""
    request = ctx.request
    if isinstance(request, Request):
        user = request.scope.get("user")
        token = user.access_token.token if isinstance(user, AuthenticatedUser) else ""
        header = document_selectors.WORKSPACE_HEADER
        return Credentials(
            token, request.headers.get(header) or request.query_params.get("workspace")
        )
    stdio = ctx.lifespan_context
    return stdio if isinstance(stdio, Credentials) else Credentials("")


def _in_thread(work: Callable[[], T]) -> Callable[[], T]:
    """`work` as a request would run it: fresh connections, errors said plainly."""

    def run() -> T:
        close_old_connections()
        try:
            return work()
        except (AccessDenied, Http404) as exc:
            raise ToolError(str(exc) or "Not found.") from exc
        except (OperationalError, InterfaceError) as exc:
            # As the REST API's 503: say so, without the driver's message.
            if outage.database_unavailable(exc):
                raise ToolError(outage.MESSAGE) from exc
            raise
        finally:
            close_old_connections()

    return run


def _authorise(credentials: Credentials, tool: str) -> Principal:
    principal = principal_for(
        token=credentials.token, workspace_code=credentials.workspace_code
    )
    if tool not in ROLES:
        raise AccessDenied(f"The tool {tool!r} has no role assigned.")
    require(principal, ROLES[tool])
    return principal


async def role_gate(
    ctx: ServerRequestContext[Any, Any], call_next: CallNext
) -> HandlerResult:
    """Every tool call: resolve the token and check the tool's role, here only.

    Runs before the tool is looked up, so no tool, however registered, runs
    for a caller without its role; the tool reads the principal from _caller.
    """
    if ctx.method != "tools/call":
        return await call_next(ctx)
    tool = str((ctx.params or {}).get("name", ""))
    credentials = _credentials(ctx)
    authorise = _in_thread(lambda: _authorise(credentials, tool))
    try:
        principal = await sync_to_async(authorise, thread_sensitive=False)()
    except ToolError as exc:
        return CallToolResult(
            content=[TextContent(type="text", text=str(exc))], is_error=True
        )
    token = _caller.set(principal)
    try:
        return await call_next(ctx)
    finally:
        _caller.reset(token)


async def _as_caller(work: Callable[[Principal], T]) -> T:
    """Run `work` for the checked caller (role_gate) in a worker thread."""
    principal = _caller.get()
    if principal is None:
        raise ToolError("This tool ran without a checked caller.")
    return await sync_to_async(
        _in_thread(lambda: work(principal)), thread_sensitive=False
    )()


def _document_ids(
    principal: Principal, document_ids: list[str] | None, tags: list[str] | None
) -> list[str] | None:
    return document_selectors.document_ids_for_filter(
        user=principal.user,
        workspace=principal.workspace,
        document_ids=document_ids,
        tags=tags,
    )


DocumentIds = Annotated[
    list[str] | None,
    Field(description="Only these documents (ids you cannot see are ignored)."),
]
Tags = Annotated[list[str] | None, Field(description="Only documents with a tag.")]


async def search(
    query: Text,
    top_k: Annotated[int, Field(ge=1, le=100)] = 10,
    document_ids: DocumentIds = None,
    tags: Tags = None,
) -> SearchOut:
    """Hybrid (dense + full-text) search over the workspace's documents.

    Each result is a passage: its document id and title, page (PDFs), and
    start_char/end_char into the document's text, with the passage itself.
    """

    def work(principal: Principal) -> SearchOut:
        hits = chunk_search(
            workspace_id=principal.workspace.id,
            query=query,
            top_k=top_k,
            document_ids=_document_ids(principal, document_ids, tags),
        )
        return SearchOut(
            results=[SearchHitOut.model_validate(h, from_attributes=True) for h in hits]
        )

    return await _as_caller(work)


async def ask(
    question: Text,
    conversation_id: str | None = None,
    document_ids: DocumentIds = None,
    tags: Tags = None,
) -> AnswerOut:
    """Answer a question from the workspace's documents, with citations.

    Every citation names its document, the cited text and its character range
    (and pages for PDFs). `conversation_id` from an earlier answer continues
    that conversation.
    """

    def work(principal: Principal) -> AnswerOut:
        user, workspace = principal.user, principal.workspace
        conversation = search_selectors.conversation_for_user(
            user=user, code=conversation_id
        )
        if conversation is not None and conversation.workspace_id != workspace.id:
            raise Http404("No such conversation in this workspace.")
        answer = answering.answer_question(
            workspace=workspace,
            user=user,
            text=question,
            document_ids=_document_ids(principal, document_ids, tags),
            conversation=conversation,
        )
        stored = search_selectors.answer_get_for_user(user=user, code=answer.code)
        return AnswerOut.of(stored)

    return await _as_caller(work)


class DocumentPage(BaseModel):
    """One page of the workspace's documents, newest first."""

    documents: list[DocumentOut]
    page: int
    per_page: int
    total: int
    next_page: int | None


async def list_documents(
    page: Annotated[int, Field(ge=1)] = 1,
    per_page: Annotated[int, Field(ge=1, le=PER_PAGE_MAX)] = 50,
    status: Literal["queued", "processing", "ready", "failed"] | None = None,
    title: Annotated[str, Field(max_length=200)] = "",
) -> DocumentPage:
    """List the workspace's documents, newest first, a page at a time.

    `title` keeps documents whose title contains each of its words.
    """

    def work(principal: Principal) -> DocumentPage:
        query = document_selectors.DocumentQuery(
            q=" ".join(title.split()), status=status or ""
        )
        rows = document_selectors.document_search_for_user(
            user=principal.user, workspace=principal.workspace, query=query
        )
        total = rows.count()
        shown = list(rows[(page - 1) * per_page : page * per_page])
        document_selectors.with_chunk_counts(shown)
        return DocumentPage(
            documents=[DocumentOut.of(d) for d in shown],
            page=page,
            per_page=per_page,
            total=total,
            next_page=page + 1 if page * per_page < total else None,
        )

    return await _as_caller(work)


class DocumentText(BaseModel):
    """A stretch of a document's extracted text: text == full[start:end]."""

    document_id: str
    title: str
    start: int
    end: int
    total_chars: int
    start_page: int | None
    end_page: int | None
    text: str
    next_start: int | None = Field(description="Where the next range begins, if any.")


async def get_document_text(
    document_id: str,
    start: Annotated[int, Field(ge=0)] = 0,
    length: Annotated[int, Field(ge=1, le=MAX_TEXT_CHARS)] = 10_000,
) -> DocumentText:
    """Read characters [start, start + length) of a document's extracted text.

    These are the offsets search results and citations give (start_char,
    end_char); at most 50,000 characters per call.
    """

    def work(principal: Principal) -> DocumentText:
        document = _text_range(principal, document_id, start, length)
        total: int = document.total_chars
        part: str = document.part
        end = min(start + len(part), total)
        return DocumentText(
            document_id=str(document.id),
            title=document.title,
            start=min(start, total),
            end=end,
            total_chars=total,
            start_page=document.page_of(start) if part else None,
            end_page=document.page_of(end - 1) if part else None,
            text=part,
            next_start=end if end < total else None,
        )

    return await _as_caller(work)


def _text_range(principal: Principal, document_id: str, start: int, length: int) -> Any:
    """The document with `part` (the range, cut by the database) and `total_chars`."""
    try:
        return (
            Document.objects.filter(
                workspace=principal.workspace,
                workspace__memberships__user=principal.user,
            )
            .only("id", "title", "page_starts", "pages")
            .annotate(
                part=Substr("text", start + 1, length), total_chars=Length("text")
            )
            .get(id=document_id)
        )
    except (Document.DoesNotExist, ValidationError, ValueError, TypeError) as exc:
        raise Http404("No such document in this workspace.") from exc


def build_server(stdio: Credentials | None = None) -> MCPServer[Credentials | None]:
    """Cairn's MCP server; `stdio` holds the token of a stdio session."""

    @asynccontextmanager
    async def lifespan(
        _: MCPServer[Credentials | None],
    ) -> AsyncIterator[Credentials | None]:
        yield stdio

    server: MCPServer[Credentials | None] = MCPServer(
        "cairn",
        title="Cairn",
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        middleware=[role_gate],
    )
    reads = ToolAnnotations(read_only_hint=True, open_world_hint=False)
    server.add_tool(search, annotations=reads)
    server.add_tool(
        ask,
        # It stores the answer in a conversation, and may fetch web pages
        # when the workspace allows Claude to.
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False),
    )
    server.add_tool(list_documents, annotations=reads)
    server.add_tool(get_document_text, annotations=reads)
    return server
