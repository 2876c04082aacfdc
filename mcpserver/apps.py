"""App configuration for the MCP server."""

from __future__ import annotations

from django.apps import AppConfig


class McpServerConfig(AppConfig):
    """Cairn's tools for MCP clients (Claude Desktop, Claude Code, ...)."""

    name = "mcpserver"
    verbose_name = "MCP server"
