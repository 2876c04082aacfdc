"""Workspaces, documents, ingestion."""
