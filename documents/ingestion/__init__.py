"""Ingestion: extract, chunk, upload, embed and store a document."""
