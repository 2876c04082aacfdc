"""Serve Cairn's MCP tools over stdio, for Claude Desktop, Claude Code and others."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from mcpserver.access import AccessDenied, principal_for
from mcpserver.tools import Credentials, build_server


class Command(BaseCommand):
    help = (
        "Serve Cairn's MCP tools (search, ask, list_documents, get_document_text) "
        "over stdin/stdout, as the user of an API token read from an environment "
        "variable (never from the command line, where ps would show it)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--token-env",
            default="CAIRN_MCP_TOKEN",
            help="The environment variable holding the API token (CAIRN_MCP_TOKEN).",
        )
        parser.add_argument(
            "--workspace",
            default=os.environ.get("CAIRN_MCP_WORKSPACE") or None,
            help="The workspace code to act in (CAIRN_MCP_WORKSPACE); "
            "default: the user's first workspace.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["token_env"]
        token = os.environ.get(name, "").strip()
        try:
            principal = principal_for(token=token, workspace_code=options["workspace"])
        except AccessDenied as exc:
            raise CommandError(
                f"{exc} Put a token in ${name} (the API tokens page, or "
                "python manage.py create_api_token USERNAME)."
            ) from exc
        workspace = principal.workspace
        # stdout carries the protocol: everything said here goes to stderr.
        self.stderr.write(
            f"Cairn MCP on stdio: {principal.user.username} ({principal.role}) "
            f"in {workspace.name} ({workspace.code})."
        )
        # The tools query from worker threads; this thread's connection idles.
        connections.close_all()
        # The workspace is pinned for the session; the token is checked again on
        # every call, so revoking it takes effect at once.
        server = build_server(Credentials(token, str(workspace.code)))
        server.run("stdio")
