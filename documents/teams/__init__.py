"""Workspaces, roles, invitations and API tokens."""
