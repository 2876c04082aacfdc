"""Retrieval, answering, questions and citations."""
