"""Contextualized chunk embeddings: documents embedded whole, within the API limits."""

from __future__ import annotations

from typing import Any

import numpy as np

from documents.remote.embeddings import (
    BATCH_SAFETY,
    CONTEXT_BATCH_TOKENS,
    CONTEXT_DOCUMENT_TOKENS,
    VoyageContextualEmbedder,
    VoyageEmbedder,
    context_requests,
    count_tokens,
    document_windows,
    embedder_for_model,
)
from tests.fakes import voyage as fake
from tests.fakes.voyage import FakeVoyage

CONTEXT_PATH = "/v1/contextualizedembeddings"


def _embedder(
    fake_voyage: FakeVoyage, model: str = "voyage-context-3"
) -> VoyageContextualEmbedder:
    return VoyageContextualEmbedder(
        api_key="test-key", base_url=fake_voyage.base_url, model=model, dimensions=512
    )


def _chunks(document: int, count: int, words: int) -> list[str]:
    return [
        f"Document {document} part {n}: "
        + " ".join(f"term{document}x{n}x{i}" for i in range(words))
        for n in range(count)
    ]


def _context_requests(fake_voyage: FakeVoyage) -> list[Any]:
    return [r.body for r in fake_voyage.requests if r.path == CONTEXT_PATH]


def test_the_embedder_for_a_contextual_model_knows_it(online: Any) -> None:
    assert embedder_for_model("voyage-context-3", 1024).contextual
    assert embedder_for_model("voyage-context-4", 1024).contextual
    assert not embedder_for_model("voyage-4", 1024).contextual
    assert isinstance(embedder_for_model("voyage-4", 1024), VoyageEmbedder)


def test_a_long_document_is_cut_into_windows_between_chunks() -> None:
    chunks = _chunks(1, 200, 300)  # about 60k tokens: two 32k contexts at least
    windows = document_windows(chunks)
    assert [chunk for window in windows for chunk in window] == chunks
    budget = CONTEXT_DOCUMENT_TOKENS * BATCH_SAFETY
    assert len(windows) >= 3
    assert all(sum(count_tokens(c) for c in window) <= budget for window in windows)
    # A chunk alone over the context is cut short, never sent whole.
    (window,) = document_windows(["word " * 40_000])
    assert count_tokens(window[0]) <= budget


def test_requests_keep_to_the_inputs_chunks_and_tokens_limits() -> None:
    many = [[f"short {n}"] for n in range(2500)]
    assert [len(r) for r in context_requests(many)] == [1000, 1000, 500]
    wide = [[f"c{n}"] * 6000 for n in range(5)]  # 30k chunks in five documents
    packed = context_requests(wide)
    assert all(sum(len(w) for w in request) <= 16_000 for request in packed)
    heavy = document_windows(_chunks(2, 400, 300))
    packed = context_requests(heavy)
    assert [w for request in packed for w in request] == heavy
    budget = CONTEXT_BATCH_TOKENS * BATCH_SAFETY
    assert all(
        sum(count_tokens(c) for w in request for c in w) <= budget for request in packed
    )


def test_documents_are_embedded_together_several_to_a_request(
    online: Any, fake_voyage: FakeVoyage
) -> None:
    first, second, third = _chunks(1, 3, 5), _chunks(2, 2, 5), _chunks(3, 1, 5)
    texts = first + second + third
    vectors = _embedder(fake_voyage).embed_documents(
        texts, documents=[7, 7, 7, 9, 9, 4]
    )
    (body,) = _context_requests(fake_voyage)
    assert body["inputs"] == [first, second, third]
    assert (body["model"], body["input_type"], body["output_dimension"]) == (
        "voyage-context-3",
        "document",
        512,
    )
    assert "truncation" not in body  # contextualized_embed has no such option
    expected = [fake.embed_in_context(doc, "document", 512) for doc in (first, second)]
    assert np.allclose(vectors[:3], expected[0], atol=1e-6)
    assert np.allclose(vectors[3:5], expected[1], atol=1e-6)
    # Without documents named, every text is a document of its own.
    fake_voyage.requests.clear()
    _embedder(fake_voyage).embed_documents(first)
    (body,) = _context_requests(fake_voyage)
    assert body["inputs"] == [[text] for text in first]


def test_a_large_corpus_goes_in_requests_the_api_accepts(
    online: Any, fake_voyage: FakeVoyage, settings: Any
) -> None:
    settings.EMBED_CONCURRENCY = 3
    # One document of about 72k tokens (over its 32k context) and twenty short ones.
    texts = _chunks(0, 240, 300)
    keys = [0] * len(texts)
    for document in range(1, 21):
        texts += _chunks(document, 4, 30)
        keys += [document] * 4
    progress: list[int] = []
    vectors = _embedder(fake_voyage).embed_documents(
        texts, documents=keys, on_batch=progress.append
    )
    assert len(vectors) == len(texts) and all(len(v) == 512 for v in vectors)
    assert progress[-1] == len(texts) and progress == sorted(progress)
    bodies = _context_requests(fake_voyage)
    assert len(bodies) >= 3  # the fake answered 400 to anything over its limits
    sent = [chunk for body in bodies for window in body["inputs"] for chunk in window]
    assert sorted(sent) == sorted(texts)
    # The long document's windows: consecutive runs of its chunks, in order. The
    # requests ran EMBED_CONCURRENCY at a time, so they reached the fake in any
    # order: put the windows back in the order of their first chunks.
    windows = sorted(
        (w for body in bodies for w in body["inputs"] if w[0] in texts[:240]),
        key=lambda window: texts.index(window[0]),
    )
    assert len(windows) >= 3 and [c for w in windows for c in w] == texts[:240]
    # Each short document stayed whole, and its vectors are in their places.
    short = texts[-4:]
    assert short in [w for body in bodies for w in body["inputs"]]
    expected = fake.embed_in_context(short, "document", 512)
    assert np.allclose(vectors[-4:], expected, atol=1e-6)


def test_queries_are_one_chunk_inputs_of_input_type_query(
    online: Any, fake_voyage: FakeVoyage
) -> None:
    vector = _embedder(fake_voyage, "voyage-context-4").embed_query("vacation days")
    (body,) = _context_requests(fake_voyage)
    assert body["inputs"] == [["vacation days"]]
    assert body["input_type"] == "query" and body["model"] == "voyage-context-4"
    assert np.allclose(vector, fake.embed_text("vacation days", "query", 512))


def test_rate_limits_and_server_errors_are_retried(
    online: Any, fake_voyage: FakeVoyage
) -> None:
    fake_voyage.fail_next(
        429, "rate_limit", "Too many requests", path_prefix=CONTEXT_PATH
    )
    fake_voyage.fail_next(503, "unavailable", "Unavailable", path_prefix=CONTEXT_PATH)
    vectors = _embedder(fake_voyage).embed_documents(
        ["alpha", "beta"], documents=[1, 1]
    )
    assert len(vectors) == 2
    assert len(fake_voyage.requests) == 3
