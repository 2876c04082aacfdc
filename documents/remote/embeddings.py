"""Embeddings: Voyage when VOYAGE_API_KEY is set, else an offline lexical embedder.

The rest of Cairn reaches them through documents.ingestion.spaces (`get_embedder()`
for queries in the active embedding space, documents in every live space) and
never imports the Voyage SDK itself. A contextual model (voyage-context-3,
voyage-context-4) embeds each document's chunks together, so every chunk's
vector carries its document's context; the others embed each text alone.
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
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
from django.conf import settings
from voyageai.client import Client

from documents.lexical import estimate_tokens, terms
from documents.remote.errors import backoff_delay, outside_call, transient

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
# Contextualized chunk embeddings (docs.voyageai.com: the contextualized chunk
# embeddings page and its API reference): per request at most 1,000 inputs
# (documents), 16K chunks and 120K tokens; each input within the model's 32K
# context length (without auto-chunking, which Cairn does not use: it sends its
# own chunks, whose character ranges citations need).
CONTEXTUAL_MODELS = ("voyage-context-3", "voyage-context-4")
CONTEXT_MAX_INPUTS = 1000
CONTEXT_MAX_CHUNKS = 16_000
CONTEXT_BATCH_TOKENS = 120_000
CONTEXT_DOCUMENT_TOKENS = 32_000
# Letter runs, digit runs and marks apart: tokenizers split "word12x345" into
# several tokens, and counting it as one word under-filled nothing but
# over-filled batches of identifiers (found by the fake's own, stricter count).
T = TypeVar("T")
_TOKEN = re.compile(r"[^\W\d_]+|\d+|[^\w\s]|_")


def voyage_call(operation: Callable[[], T], api: str = "voyage_embed") -> T:
    """Run one Voyage request, retrying transient errors (EMBED_MAX_RETRIES) with
    the one backoff (documents.remote.errors).

    Each attempt is one outside call in the metrics (errors.outside_call).
    """
    attempt = 0
    while True:
        try:
            with outside_call(api):
                return operation()
        except Exception as exc:
            if not transient(exc) or attempt >= settings.EMBED_MAX_RETRIES:
                raise
            time.sleep(
                backoff_delay(attempt, base=float(settings.EMBED_BACKOFF_S), cap=60.0)
            )
            attempt += 1


class Embedder(Protocol):
    """Turns texts into unit-length vectors of one width.

    documents names the document of each text (texts of one document adjacent,
    in reading order); a contextual embedder embeds each document's texts
    together, the others ignore it. Without it every text is a document.
    """

    name: str

    @property
    def contextual(self) -> bool: ...

    def embed_documents(
        self,
        texts: Sequence[str],
        *,
        on_batch: Callable[[int], None] | None = None,
        documents: Sequence[object] | None = None,
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


# Output widths: the Matryoshka models take any of these; the rest only 1024.
FLEXIBLE_DIMENSIONS = (256, 512, 1024, 2048)
FIXED_WIDTH_MODELS = ("voyage-finance-2", "voyage-law-2")


def voyage_models() -> tuple[str, ...]:
    """The Voyage text models Cairn can embed with (contextual ones included)."""
    return (*MODEL_BATCH_TOKENS, *CONTEXTUAL_MODELS)


def model_dimensions(model: str) -> tuple[int, ...]:
    """The output_dimension values a Voyage model accepts."""
    return (1024,) if model in FIXED_WIDTH_MODELS else FLEXIBLE_DIMENSIONS


def is_contextual_model(model: str) -> bool:
    """Whether model embeds a document's chunks together (contextualized_embed)."""
    return model in CONTEXTUAL_MODELS


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
    contextual = False

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
        self,
        texts: Sequence[str],
        *,
        on_batch: Callable[[int], None] | None = None,
        documents: Sequence[object] | None = None,
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


def _run_batches(
    batches: Sequence[Any],
    embed: Callable[[Any], list[list[float]]],
    on_batch: Callable[[int], None] | None,
) -> list[list[float]]:
    """embed(batch) for each batch, EMBED_CONCURRENCY at a time, in order."""
    results: list[list[list[float]]] = [[] for _ in batches]
    done = 0
    workers = max(1, min(int(settings.EMBED_CONCURRENCY), len(batches)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {
            pool.submit(embed, batch): index for index, batch in enumerate(batches)
        }
        for future in as_completed(futures):
            index = futures[future]
            results[index] = future.result()
            done += len(results[index])
            if on_batch is not None:
                on_batch(done)
    return [vector for batch in results for vector in batch]


class VoyageEmbedder:
    """Voyage embeddings: packed batches, bounded concurrency, retried 429/5xx."""

    contextual = False

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
        self,
        texts: Sequence[str],
        *,
        on_batch: Callable[[int], None] | None = None,
        documents: Sequence[object] | None = None,
    ) -> list[list[float]]:
        packed = batches(
            texts, max_tokens=MODEL_BATCH_TOKENS.get(self.name, DEFAULT_BATCH_TOKENS)
        )
        return _run_batches(
            packed, lambda batch: self._embed(batch, "document"), on_batch
        )

    def embed_query(
        self, text: str, *, idf: Mapping[str, float] | None = None
    ) -> list[float]:
        # A learned model weighs terms itself; idf is for the lexical embedder.
        return self._embed([text], "query")[0]


def _fit(text: str, budget: int) -> str:
    """text cut to about budget tokens (a chunk alone over a model's context)."""
    while count_tokens(text) > budget:
        text = text[: max(1, int(len(text) * budget / count_tokens(text) * 0.95))]
    return text


def document_windows(
    texts: Sequence[str], *, max_tokens: int = CONTEXT_DOCUMENT_TOKENS
) -> list[list[str]]:
    """One document's chunks as inputs within the model's context length.

    A document over it is cut, between chunks, into consecutive windows each
    within the budget: a chunk then carries the context of its window (a run
    of neighbouring chunks), not of the whole document. A single chunk over
    the budget is cut short, as the embeddings endpoint's truncation would.
    """
    budget = int(max_tokens * BATCH_SAFETY)
    windows: list[list[str]] = []
    current: list[str] = []
    tokens = 0
    for text in texts:
        text = _fit(text, budget)
        cost = count_tokens(text)
        if current and tokens + cost > budget:
            windows.append(current)
            current, tokens = [], 0
        current.append(text)
        tokens += cost
    if current:
        windows.append(current)
    return windows


def context_requests(windows: Sequence[list[str]]) -> list[list[list[str]]]:
    """Pack inputs, in order, into requests within the inputs/chunks/tokens limits."""
    budget = int(CONTEXT_BATCH_TOKENS * BATCH_SAFETY)
    requests: list[list[list[str]]] = []
    current: list[list[str]] = []
    chunks = tokens = 0
    for window in windows:
        cost = sum(count_tokens(text) for text in window)
        if current and (
            len(current) >= CONTEXT_MAX_INPUTS
            or chunks + len(window) > CONTEXT_MAX_CHUNKS
            or tokens + cost > budget
        ):
            requests.append(current)
            current, chunks, tokens = [], 0, 0
        current.append(window)
        chunks += len(window)
        tokens += cost
    if current:
        requests.append(current)
    return requests


class VoyageContextualEmbedder(VoyageEmbedder):
    """Contextualized chunk embeddings: each document's chunks embedded together.

    Documents go through `contextualized_embed` as lists of their chunks, as
    many to a request as its limits allow; a query is a one-chunk input with
    input_type "query".
    """

    contextual = True

    def _embed_inputs(
        self, inputs: list[list[str]], input_type: str
    ) -> list[list[float]]:
        def call() -> list[list[float]]:
            result = self._client.contextualized_embed(
                inputs=inputs,
                model=self.name,
                input_type=input_type,
                output_dimension=self.dimensions,
            )
            return [
                list(map(float, vector))
                for document in result.results
                for vector in document.embeddings
            ]

        return voyage_call(call)

    def embed_documents(
        self,
        texts: Sequence[str],
        *,
        on_batch: Callable[[int], None] | None = None,
        documents: Sequence[object] | None = None,
    ) -> list[list[float]]:
        keys = range(len(texts)) if documents is None else documents
        if len(keys) != len(texts):
            raise ValueError("documents must name the document of every text")
        windows = [
            window
            for _, group in itertools.groupby(zip(keys, texts, strict=True), _key)
            for window in document_windows([text for _, text in group])
        ]
        return _run_batches(
            context_requests(windows),
            lambda inputs: self._embed_inputs(inputs, "document"),
            on_batch,
        )

    def embed_query(
        self, text: str, *, idf: Mapping[str, float] | None = None
    ) -> list[float]:
        (window,) = document_windows([text])
        return self._embed_inputs([window], "query")[0]


def _key(pair: tuple[object, str]) -> object:
    return pair[0]


@lru_cache(maxsize=8)
def _cached_embedder(
    api_key: str, base_url: str | None, model: str, dimensions: int
) -> Embedder:
    if is_offline_model(model):
        return OfflineEmbedder(dimensions, model)
    if api_key:
        kind = (
            VoyageContextualEmbedder if is_contextual_model(model) else VoyageEmbedder
        )
        return kind(
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
