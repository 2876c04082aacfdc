"""Embeddings: Voyage when VOYAGE_API_KEY is set, else an offline lexical embedder.

The rest of Cairn calls `get_embedder()` and never imports the Voyage SDK itself.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Protocol

from django.conf import settings

from documents.chunking import estimate_tokens
from documents.lexical import terms

# Voyage's per-request limits are 1000 texts and 120k-1M tokens by model; our
# token estimate is rough, so batches stay well inside the smallest budget.
MAX_BATCH_TEXTS = 128
MAX_BATCH_TOKENS = 60_000


class Embedder(Protocol):
    """Turns texts into unit-length vectors of settings.EMBEDDING_DIMENSIONS."""

    name: str

    def embed_documents(
        self, texts: Sequence[str], *, on_batch: Callable[[int], None] | None = None
    ) -> list[list[float]]: ...

    def embed_query(
        self, text: str, *, idf: Mapping[str, float] | None = None
    ) -> list[float]: ...


def batches(texts: Sequence[str]) -> list[list[str]]:
    """Pack texts into request-sized batches by count and estimated tokens."""
    packed: list[list[str]] = []
    current: list[str] = []
    tokens = 0
    for text in texts:
        cost = estimate_tokens(text)
        if current and (
            len(current) >= MAX_BATCH_TEXTS or tokens + cost > MAX_BATCH_TOKENS
        ):
            packed.append(current)
            current, tokens = [], 0
        current.append(text)
        tokens += cost
    if current:
        packed.append(current)
    return packed


class OfflineEmbedder:
    """A deterministic lexical embedder: signed hashing of stemmed terms and bigrams.

    Its cosine similarity tracks shared vocabulary, which is honest dense-ish
    retrieval with no model download and no network.
    """

    name = "offline-lexical-v1"

    def __init__(self, dimensions: int) -> None:
        self.dimensions = dimensions

    def _vector(self, text: str, idf: Mapping[str, float] | None = None) -> list[float]:
        tokens = terms(text)
        features = Counter(tokens)
        features.update(f"{a} {b}" for a, b in itertools.pairwise(tokens))
        vector = [0.0] * self.dimensions
        for feature, count in features.items():
            digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
            slot = int.from_bytes(digest[:4], "little") % self.dimensions
            sign = 1.0 if digest[4] & 1 else -1.0
            weight = (1.0 + math.log(count)) * (0.5 if " " in feature else 1.0)
            if idf is not None:
                # A bigram is as rare as its rarer word.
                weight *= max(idf.get(part, 1.0) for part in feature.split(" "))
            vector[slot] += sign * weight
        norm = math.sqrt(sum(v * v for v in vector))
        if norm == 0.0:
            # An empty text still needs a valid unit vector for the index.
            vector[0] = 1.0
            return vector
        return [v / norm for v in vector]

    def embed_documents(
        self, texts: Sequence[str], *, on_batch: Callable[[int], None] | None = None
    ) -> list[list[float]]:
        vectors: list[list[float]] = []
        for batch in batches(texts):
            vectors.extend(self._vector(text) for text in batch)
            if on_batch is not None:
                on_batch(len(vectors))
        return vectors

    def embed_query(
        self, text: str, *, idf: Mapping[str, float] | None = None
    ) -> list[float]:
        """The query's vector; idf (term -> weight) stresses the rare terms."""
        return self._vector(text, idf)


class VoyageEmbedder:
    """Voyage embeddings through the voyageai SDK."""

    def __init__(
        self, *, api_key: str, base_url: str | None, model: str, dimensions: int
    ):
        from voyageai.client import Client

        self.name = model
        self.dimensions = dimensions
        self._client = Client(
            api_key=api_key,
            base_url=base_url,
            max_retries=settings.API_MAX_RETRIES,
            timeout=60,
        )

    def _embed(self, texts: list[str], input_type: str) -> list[list[float]]:
        result = self._client.embed(
            texts,
            model=self.name,
            input_type=input_type,
            truncation=True,
            output_dimension=self.dimensions,
        )
        return [list(map(float, vector)) for vector in result.embeddings]

    def embed_documents(
        self, texts: Sequence[str], *, on_batch: Callable[[int], None] | None = None
    ) -> list[list[float]]:
        vectors: list[list[float]] = []
        for batch in batches(texts):
            vectors.extend(self._embed(batch, "document"))
            if on_batch is not None:
                on_batch(len(vectors))
        return vectors

    def embed_query(
        self, text: str, *, idf: Mapping[str, float] | None = None
    ) -> list[float]:
        # A learned model weighs terms itself; idf is for the lexical embedder.
        return self._embed([text], "query")[0]


@lru_cache(maxsize=4)
def _cached_embedder(
    api_key: str, base_url: str | None, model: str, dimensions: int
) -> Embedder:
    if api_key:
        return VoyageEmbedder(
            api_key=api_key, base_url=base_url, model=model, dimensions=dimensions
        )
    return OfflineEmbedder(dimensions)


def get_embedder() -> Embedder:
    """Return the configured embedder (Voyage online, lexical offline)."""
    return _cached_embedder(
        settings.VOYAGE_API_KEY,
        settings.VOYAGE_BASE_URL,
        settings.EMBEDDING_MODEL,
        settings.EMBEDDING_DIMENSIONS,
    )
