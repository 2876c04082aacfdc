"""Voyage at scale: packed batches within the model's limits, concurrency, retries."""

from __future__ import annotations

import threading
from typing import Any

from documents.remote.embeddings import VoyageEmbedder, batches, count_tokens
from tests.fakes.voyage import EMBED_MODELS, FakeVoyage


def _embedder(fake: FakeVoyage, model: str = "voyage-3-large") -> VoyageEmbedder:
    return VoyageEmbedder(
        api_key="test-key", base_url=fake.base_url, model=model, dimensions=1024
    )


def _texts(count: int, words: int) -> list[str]:
    return [
        f"Document {n}: " + " ".join(f"word{n}x{i}" for i in range(words))
        for n in range(count)
    ]


def test_batches_respect_count_and_token_budgets() -> None:
    texts = _texts(2500, 5)
    packed = batches(texts, max_texts=1000, max_tokens=10**9)
    assert [len(b) for b in packed] == [1000, 1000, 500]
    heavy = _texts(40, 2000)
    packed = batches(heavy, max_tokens=20_000)
    assert [t for b in packed for t in b] == heavy, "order kept, nothing lost"
    assert all(sum(count_tokens(t) for t in b) <= 16_000 for b in packed)


def test_a_large_document_is_embedded_in_requests_the_model_accepts(
    online: Any, fake_voyage: FakeVoyage, settings: Any
) -> None:
    settings.EMBED_CONCURRENCY = 3
    texts = _texts(300, 1200)  # about 360k tokens: over voyage-3-large's 120k
    progress: list[int] = []
    vectors = _embedder(fake_voyage).embed_documents(texts, on_batch=progress.append)
    assert len(vectors) == 300 and all(len(v) == 1024 for v in vectors)
    requests = [r for r in fake_voyage.requests if r.path.endswith("/embeddings")]
    assert len(requests) >= 4
    limit = EMBED_MODELS["voyage-3-large"].batch_tokens
    for request in requests:
        assert len(request.body["input"]) <= 1000
        assert sum(count_tokens(t) for t in request.body["input"]) <= limit
    assert progress[-1] == 300 and progress == sorted(progress)
    # Order is kept across concurrent batches: each vector is its own text's.
    single = _embedder(fake_voyage).embed_documents([texts[-1]])[0]
    assert vectors[-1] == single


def test_concurrent_requests_are_bounded(
    online: Any, fake_voyage: FakeVoyage, settings: Any
) -> None:
    settings.EMBED_CONCURRENCY = 2
    fake_voyage.latency_s = 0.2
    active = 0
    peak = 0
    lock = threading.Lock()
    embedder = _embedder(fake_voyage)
    real = embedder._embed

    def counting(texts: list[str], input_type: str) -> list[list[float]]:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        try:
            return real(texts, input_type)
        finally:
            with lock:
                active -= 1

    embedder._embed = counting  # type: ignore[method-assign]
    embedder.embed_documents(_texts(300, 1200))
    assert peak == 2


def test_rate_limits_and_server_errors_are_retried(
    online: Any, fake_voyage: FakeVoyage
) -> None:
    fake_voyage.fail_next(429, "rate_limit", "Too many requests", times=1)
    fake_voyage.fail_next(503, "unavailable", "Service unavailable", times=1)
    vectors = _embedder(fake_voyage).embed_documents(["alpha", "beta"])
    assert len(vectors) == 2
    assert len(fake_voyage.requests) == 3


def test_queries_use_the_query_input_type(online: Any, fake_voyage: FakeVoyage) -> None:
    _embedder(fake_voyage).embed_query("vacation days")
    assert fake_voyage.requests[-1].body["input_type"] == "query"
