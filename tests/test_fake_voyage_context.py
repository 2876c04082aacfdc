"""The fake's /v1/contextualizedembeddings, driven by the real contextualized_embed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import voyageai.error
from voyageai.client import Client as VoyageClient

from tests.fakes.voyage import FakeVoyage, count_tokens, embed_text

ACME = [
    "Acme Corporation files its annual report for 2026.",
    "Revenue grew fifteen percent in the second quarter.",
]
GLOBEX = [
    "Globex Inc publishes its yearly results.",
    "Revenue grew three percent over the year.",
    "The board approved a dividend.",
]


def _cosine(a: Any, b: Any) -> float:
    return float(np.dot(a, b))


def test_each_document_comes_back_as_its_chunks_vectors(
    voyage_client: VoyageClient, fake_voyage: FakeVoyage
) -> None:
    result = voyage_client.contextualized_embed(
        inputs=[ACME, GLOBEX], model="voyage-context-3", input_type="document"
    )
    assert [r.index for r in result.results] == [0, 1]
    assert [len(r.embeddings) for r in result.results] == [2, 3]
    vectors = [v for r in result.results for v in r.embeddings]
    assert all(len(v) == 1024 for v in vectors)
    assert all(abs(np.linalg.norm(v) - 1) < 1e-5 for v in vectors)
    assert result.total_tokens == sum(count_tokens(t) for t in ACME + GLOBEX)
    request = fake_voyage.requests[-1]
    assert (request.method, request.path) == ("POST", "/v1/contextualizedembeddings")
    assert request.body["inputs"] == [ACME, GLOBEX]
    assert request.body["input_type"] == "document"
    assert request.body["encoding_format"] == "base64"
    # Deterministic, and the same document alone gets the same vectors.
    alone = voyage_client.contextualized_embed(
        inputs=[GLOBEX], model="voyage-context-3", input_type="document"
    )
    assert np.allclose(alone.results[0].embeddings, result.results[1].embeddings)


def test_a_chunk_carries_its_documents_context(voyage_client: VoyageClient) -> None:
    result = voyage_client.contextualized_embed(
        inputs=[ACME, GLOBEX], model="voyage-context-3", input_type="document"
    )
    (query,) = voyage_client.contextualized_embed(
        inputs=[["Acme revenue growth"]], model="voyage-context-3", input_type="query"
    ).results
    acme_revenue = result.results[0].embeddings[1]
    globex_revenue = result.results[1].embeddings[1]
    # Neither revenue chunk names its company; only Acme's document does.
    assert _cosine(query.embeddings[0], acme_revenue) > _cosine(
        query.embeddings[0], globex_revenue
    )
    # A one-chunk input is embedded as it would be on its own.
    assert np.allclose(
        query.embeddings[0], embed_text("Acme revenue growth", "query", 1024)
    )


@pytest.mark.parametrize("dimension", [256, 512, 2048])
def test_output_dimension_and_quantization(
    voyage_client: VoyageClient, dimension: int
) -> None:
    result = voyage_client.contextualized_embed(
        inputs=[ACME],
        model="voyage-context-4",
        input_type="document",
        output_dimension=dimension,
        output_dtype="int8",
    )
    vector = result.results[0].embeddings[0]
    assert len(vector) == dimension
    assert all(-128 <= int(x) <= 127 for x in vector)


@pytest.mark.parametrize(
    ("inputs", "kwargs", "fragment"),
    [
        ([["a"]] * 1001, {}, "number of inputs"),
        ([["a"] * 8001, ["b"] * 8000], {}, "total number of chunks"),
        ([["word " * 25_000]] * 5, {}, "more than the limit of 120000"),
        ([["word " * 20_000, "word " * 13_000]], {}, "context length of 32000"),
        ([["a"]], {"model": "voyage-4"}, "not supported"),
        ([["a"]], {"model": "voyage-context-9"}, "not supported"),
        ([["a"]], {"output_dimension": 768}, "output_dimension"),
        ([["a"]], {"input_type": "passage"}, "input_type"),
        ([["a", ""]], {}, "non-empty string"),
        ([["a", "b"]], {"input_type": "query"}, "exactly one query"),
    ],
)
def test_rejections(
    voyage_client: VoyageClient,
    inputs: list[list[str]],
    kwargs: dict[str, Any],
    fragment: str,
) -> None:
    options = {"model": "voyage-context-3", "input_type": "document"} | kwargs
    with pytest.raises(voyageai.error.InvalidRequestError, match=fragment):
        voyage_client.contextualized_embed(inputs=inputs, **options)


def test_auto_chunking_is_refused_not_ignored(voyage_client: VoyageClient) -> None:
    with pytest.raises(voyageai.error.InvalidRequestError, match="auto_chunking"):
        voyage_client.contextualized_embed(
            inputs=[["one long document"]],
            model="voyage-context-4",
            input_type="document",
            enable_auto_chunking=True,
        )
