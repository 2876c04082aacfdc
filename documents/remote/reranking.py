"""Reranking through Voyage: the one module that calls Voyage's reranker.

Used when VOYAGE_API_KEY is set and RERANK_MODEL is not empty; the rest of Cairn
calls `get_reranker()` and never imports the Voyage SDK itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol

from django.conf import settings
from voyageai.client import Client

from documents.remote.errors import counted

# Voyage's rerankers (docs.voyageai.com/docs/reranker): rerank-2.5 for quality,
# rerank-2.5-lite for latency and cost; the older ones are still served.
RERANK_MODELS = ("rerank-2.5", "rerank-2.5-lite")
LEGACY_RERANK_MODELS = ("rerank-2", "rerank-2-lite", "rerank-1", "rerank-lite-1")


class Reranker(Protocol):
    """Orders candidate texts by relevance to a query."""

    name: str

    def rerank(self, query: str, texts: Sequence[str]) -> list[int]:
        """Indexes into texts, most relevant first."""
        ...


class VoyageReranker:
    """Voyage's reranker through the voyageai SDK."""

    def __init__(self, *, api_key: str, base_url: str | None, model: str) -> None:
        self.name = model
        self._client = Client(
            api_key=api_key,
            base_url=base_url,
            max_retries=settings.API_MAX_RETRIES,
            timeout=30,
        )

    @counted("voyage_rerank")
    def rerank(self, query: str, texts: Sequence[str]) -> list[int]:
        # Voyage rejects empty documents; they cannot be relevant anyway.
        kept = [i for i, text in enumerate(texts) if text.strip()]
        if not kept:
            return []
        result = self._client.rerank(
            query, [texts[i] for i in kept], model=self.name, truncation=True
        )
        return [kept[int(item.index)] for item in result.results]


@lru_cache(maxsize=4)
def _cached(api_key: str, base_url: str | None, model: str) -> Reranker:
    return VoyageReranker(api_key=api_key, base_url=base_url, model=model)


def forget_clients() -> None:
    """Drop the cached rerankers, so changed settings take effect (tests, bench)."""
    _cached.cache_clear()


def get_reranker() -> Reranker | None:
    """The configured reranker, or None when reranking is off."""
    if not settings.VOYAGE_API_KEY or not settings.RERANK_MODEL:
        return None
    return _cached(
        settings.VOYAGE_API_KEY, settings.VOYAGE_BASE_URL, settings.RERANK_MODEL
    )
