"""The offline embedder: signed hashing of stemmed words and their character grams."""

from __future__ import annotations

import math

import pytest

from documents.remote.embeddings import (
    OFFLINE_MODELS,
    OfflineEmbedder,
    embedder_for_model,
    is_offline_model,
)


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_vectors_are_unit_length_deterministic_and_of_the_space_width() -> None:
    embedder = OfflineEmbedder(256)
    first, empty = embedder.embed_documents(["Paid vacation days", ""])
    assert len(first) == len(empty) == 256
    assert math.isclose(math.fsum(v * v for v in first), 1.0, rel_tol=1e-9)
    # Nothing to hash still gives a valid unit vector for the index.
    assert math.isclose(math.fsum(v * v for v in empty), 1.0, rel_tol=1e-9)
    assert OfflineEmbedder(256).embed_documents(["Paid vacation days"])[0] == first


def test_word_forms_the_stemmer_misses_still_match_through_their_grams() -> None:
    query = "hypertensive patients"
    related = "Hypertension in older adults"
    unrelated = "Volcanic ash in older adults"
    v2 = OfflineEmbedder(1024)
    q = v2.embed_query(query)
    assert _cosine(q, v2.embed_documents([related])[0]) > 0.1
    assert _cosine(q, v2.embed_documents([unrelated])[0]) == pytest.approx(0.0)
    # The first version hashed whole words only: no match at all.
    v1 = OfflineEmbedder(1024, "offline-lexical-v1")
    assert _cosine(
        v1.embed_query(query), v1.embed_documents([related])[0]
    ) == pytest.approx(0.0)


def test_query_idf_stresses_the_rare_word() -> None:
    embedder = OfflineEmbedder(1024)
    docs = embedder.embed_documents(["llama farm", "glacier farm"])
    query = embedder.embed_query("llama glacier", idf={"glacier": 5.0, "llama": 1.0})
    assert _cosine(query, docs[1]) > _cosine(query, docs[0])


def test_every_offline_version_stays_readable() -> None:
    # A space built with an older version keeps answering queries in its own
    # vectors while the newest version is built beside it.
    assert OfflineEmbedder.name == OFFLINE_MODELS[-1] == "offline-lexical-v2"
    for model in OFFLINE_MODELS:
        assert is_offline_model(model)
        assert embedder_for_model(model, 64).name == model
    assert not is_offline_model("voyage-3.5")
    v1, v2 = (embedder_for_model(m, 64) for m in OFFLINE_MODELS)
    assert v1.embed_query("paid leave") != v2.embed_query("paid leave")
    with pytest.raises(ValueError, match="not an offline embedder"):
        OfflineEmbedder(64, "voyage-3.5")
