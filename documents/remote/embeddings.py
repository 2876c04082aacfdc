"""Embeddings: Voyage when VOYAGE_API_KEY is set, else an offline lexical embedder.

The rest of Cairn reaches them through documents.ingestion.spaces (`get_embedder()`
for queries in the active embedding space, documents in every live space) and
never imports the Voyage SDK itself.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from functools import lru_cache
from typing import Protocol, TypeVar

import numpy as np
import numpy.typing as npt
from django.conf import settings
from voyageai.client import Client

from documents.lexical import estimate_tokens, terms
from documents.remote.errors import backoff_delay, transient

# Voyage's documented per-request limits: 1000 texts, and a token budget by model.
MAX_BATCH_TEXTS = 1000
MODEL_BATCH_TOKENS = {
    "voyage-3.5": 320_000,
    "voyage-3.5-lite": 1_000_000,
    "voyage-3-large": 120_000,
    "voyage-code-3": 120_000,
    "voyage-finance-2": 120_000,
    "voyage-law-2": 120_000,
    "voyage-4": 320_000,
    "voyage-4-lite": 1_000_000,
    "voyage-4-large": 120_000,
}
DEFAULT_BATCH_TOKENS = 120_000
# Our token count is an estimate; batches stay this far inside the budget.
BATCH_SAFETY = 0.8
# Letter runs, digit runs and marks apart: tokenizers split "word12x345" into
# several tokens, and counting it as one word under-filled nothing but
# over-filled batches of identifiers (found by the fake's own, stricter count).
T = TypeVar("T")
_TOKEN = re.compile(r"[^\W\d_]+|\d+|[^\w\s]|_")


def voyage_call(operation: Callable[[], T]) -> T:
    """Run one Voyage request, retrying transient errors (EMBED_MAX_RETRIES) with
    the one backoff (documents.remote.errors)."""
    attempt = 0
    while True:
        try:
            return operation()
        except Exception as exc:
            if not transient(exc) or attempt >= settings.EMBED_MAX_RETRIES:
                raise
            time.sleep(
                backoff_delay(attempt, base=float(settings.EMBED_BACKOFF_S), cap=60.0)
            )
            attempt += 1


class Embedder(Protocol):
    """Turns texts into unit-length vectors of one width."""

    name: str

    def embed_documents(
        self, texts: Sequence[str], *, on_batch: Callable[[int], None] | None = None
    ) -> list[list[float]]: ...

    def embed_query(
        self, text: str, *, idf: Mapping[str, float] | None = None
    ) -> list[float]: ...


def _unit(vector: npt.ArrayLike) -> list[float]:
    """vector scaled to length 1; an empty text's zero vector becomes a unit one."""
    values = np.asarray(vector, dtype=np.float64)
    norm = float(np.linalg.norm(values))
    if norm == 0.0:
        # An empty text still needs a valid unit vector for the index.
        values[0] = 1.0
        return list(values.tolist())
    return list((values / norm).tolist())


def count_tokens(text: str) -> int:
    """A cautious token count: every word and mark, or four characters, a token."""
    return max(len(_TOKEN.findall(text)), estimate_tokens(text))


def batches(
    texts: Sequence[str],
    *,
    max_texts: int = MAX_BATCH_TEXTS,
    max_tokens: int = DEFAULT_BATCH_TOKENS,
) -> list[list[str]]:
    """Pack texts in order into request-sized batches by count and tokens."""
    budget = int(max_tokens * BATCH_SAFETY)
    packed: list[list[str]] = []
    current: list[str] = []
    tokens = 0
    for text in texts:
        cost = count_tokens(text)
        if current and (len(current) >= max_texts or tokens + cost > budget):
            packed.append(current)
            current, tokens = [], 0
        current.append(text)
        tokens += cost
    if current:
        packed.append(current)
    return packed


# Offline embedder models. v1 hashed stemmed words and bigrams; at 1024
# dimensions its collisions cost more than the bigrams gave (SciFact nDCG@10
# 0.45 dense, and hybrid fell below full-text alone). v2 hashes each stemmed
# word and its character 4-grams: a shared word lands in several slots, so one
# collision no longer decides a match, and word forms the stemmer misses
# ("hypertension"/"hypertensive") still share most of their grams.
OFFLINE_MODELS = ("offline-lexical-v1", "offline-lexical-v2")
GRAM = 4
GRAM_WEIGHT = 0.3


def is_offline_model(model: str) -> bool:
    """Whether model names one of the offline embedder's versions."""
    return model in OFFLINE_MODELS


@lru_cache(maxsize=200_000)
def _slot(feature: str, dimensions: int) -> tuple[int, float]:
    """The feature's hashed slot and sign (signed feature hashing)."""
    digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
    slot = int.from_bytes(digest[:4], "little") % dimensions
    return slot, (1.0 if digest[4] & 1 else -1.0)


@lru_cache(maxsize=200_000)
def _term_slots(
    term: str, dimensions: int
) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """Slots and signed gains of a term (1) and of its character grams (GRAM_WEIGHT)."""
    features = [(term, 1.0)]
    padded = f"^{term}$"
    features.extend(
        ("#" + padded[start : start + GRAM], GRAM_WEIGHT)
        for start in range(len(padded) - GRAM + 1)
    )
    slots: list[int] = []
    gains: list[float] = []
    for feature, gain in features:
        slot, sign = _slot(feature, dimensions)
        slots.append(slot)
        gains.append(sign * gain)
    return tuple(slots), tuple(gains)


class OfflineEmbedder:
    """A deterministic lexical embedder: signed hashing of stemmed terms.

    Its cosine similarity tracks shared vocabulary, which is honest dense-ish
    retrieval with no model download and no network. `model` picks the
    version, so vectors of an older offline space can still be read while a
    newer one is built (see OFFLINE_MODELS).
    """

    name = OFFLINE_MODELS[-1]

    def __init__(self, dimensions: int, model: str = OFFLINE_MODELS[-1]) -> None:
        if not is_offline_model(model):
            raise ValueError(f"{model} is not an offline embedder")
        self.dimensions = dimensions
        self.name = model

    def _vector(self, text: str, idf: Mapping[str, float] | None = None) -> list[float]:
        if self.name == "offline-lexical-v1":
            return self._vector_v1(text, idf)
        slots: list[int] = []
        gains: list[float] = []
        weights: list[float] = []
        spans: list[int] = []
        for term, count in Counter(terms(text)).items():
            weight = 1.0 + math.log(count)
            if idf is not None:
                weight *= idf.get(term, 1.0)
            term_slots, term_gains = _term_slots(term, self.dimensions)
            slots.extend(term_slots)
            gains.extend(term_gains)
            weights.append(weight)
            spans.append(len(term_slots))
        if not slots:
            return _unit([0.0] * self.dimensions)
        values = np.asarray(gains) * np.repeat(weights, spans)
        vector = np.bincount(slots, weights=values, minlength=self.dimensions)
        return _unit(vector)

    def _vector_v1(
        self, text: str, idf: Mapping[str, float] | None = None
    ) -> list[float]:
        tokens = terms(text)
        features = Counter(tokens)
        features.update(f"{a} {b}" for a, b in itertools.pairwise(tokens))
        vector = [0.0] * self.dimensions
        for feature, count in features.items():
            slot, sign = _slot(feature, self.dimensions)
            weight = (1.0 + math.log(count)) * (0.5 if " " in feature else 1.0)
            if idf is not None:
                # A bigram is as rare as its rarer word.
                weight *= max(idf.get(part, 1.0) for part in feature.split(" "))
            vector[slot] += sign * weight
        return _unit(vector)

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
    """Voyage embeddings: packed batches, bounded concurrency, retried 429/5xx."""

    def __init__(
        self, *, api_key: str, base_url: str | None, model: str, dimensions: int
    ):
        self.name = model
        self.dimensions = dimensions
        # Cairn retries (below) with backoff; the SDK's own retries would multiply.
        self._client = Client(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=60
        )

    def _embed(self, texts: list[str], input_type: str) -> list[list[float]]:
        result = voyage_call(
            lambda: self._client.embed(
                texts,
                model=self.name,
                input_type=input_type,
                truncation=True,
                output_dimension=self.dimensions,
            )
        )
        return [list(map(float, vector)) for vector in result.embeddings]

    def embed_documents(
        self, texts: Sequence[str], *, on_batch: Callable[[int], None] | None = None
    ) -> list[list[float]]:
        packed = batches(
            texts, max_tokens=MODEL_BATCH_TOKENS.get(self.name, DEFAULT_BATCH_TOKENS)
        )
        results: list[list[list[float]]] = [[] for _ in packed]
        done = 0
        workers = max(1, min(int(settings.EMBED_CONCURRENCY), len(packed)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {
                pool.submit(self._embed, batch, "document"): index
                for index, batch in enumerate(packed)
            }
            for future in as_completed(futures):
                index = futures[future]
                results[index] = future.result()
                done += len(results[index])
                if on_batch is not None:
                    on_batch(done)
        return [vector for batch in results for vector in batch]

    def embed_query(
        self, text: str, *, idf: Mapping[str, float] | None = None
    ) -> list[float]:
        # A learned model weighs terms itself; idf is for the lexical embedder.
        return self._embed([text], "query")[0]


@lru_cache(maxsize=8)
def _cached_embedder(
    api_key: str, base_url: str | None, model: str, dimensions: int
) -> Embedder:
    if is_offline_model(model):
        return OfflineEmbedder(dimensions, model)
    if api_key:
        return VoyageEmbedder(
            api_key=api_key, base_url=base_url, model=model, dimensions=dimensions
        )
    return OfflineEmbedder(dimensions)


def forget_clients() -> None:
    """Drop the cached embedders, so changed settings take effect (tests, bench)."""
    _cached_embedder.cache_clear()


def embedder_for_model(model: str, dimensions: int) -> Embedder:
    """An embedder for one model and width (offline for the offline model)."""
    return _cached_embedder(
        settings.VOYAGE_API_KEY, settings.VOYAGE_BASE_URL, model, dimensions
    )
