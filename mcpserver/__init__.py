"""Cairn as an MCP server: tools over stdio (manage.py mcp) and HTTP (/mcp)."""
