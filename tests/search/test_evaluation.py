"""The BEIR evaluation: metrics, loading, and the scratch-workspace run."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from documents.ingestion.spaces import ensure_active_space
from documents.models import Chunk, Workspace
from documents.remote.embeddings import OfflineEmbedder
from search.evaluation import evaluate, ingest, load_beir, ndcg_at, recall_at
from search.usage import answer_cost


def test_ndcg_and_recall_follow_their_definitions() -> None:
    relevant = {"a": 1, "b": 1}
    assert ndcg_at(["a", "b", "c"], relevant) == pytest.approx(1.0)
    # One hit at rank 2 of two relevant: (1/log2 3) / (1 + 1/log2 3).
    expected = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert ndcg_at(["c", "a"], relevant) == pytest.approx(expected)
    assert recall_at(["c", "a"], relevant) == 0.5
    assert recall_at(["c"] * 100 + ["a"], relevant, k=100) == 0.0


def _dataset(root: Path) -> Path:
    corpus = [
        {"_id": "d1", "title": "Llamas", "text": "Llamas graze on alpine grass."},
        {"_id": "d2", "title": "Taxes", "text": "Corporate tax rates fell in 2020."},
        {"_id": "d3", "title": "Volcanoes", "text": "Magma rises through vents."},
    ]
    queries = [
        {"_id": "q1", "text": "what do llamas graze on"},
        {"_id": "q2", "text": "corporate tax rate"},
        {"_id": "q9", "text": "unjudged query is skipped"},
    ]
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("\n".join(json.dumps(r) for r in corpus))
    (root / "queries.jsonl").write_text("\n".join(json.dumps(r) for r in queries))
    (root / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n"
    )
    return root


def test_a_small_beir_set_is_ingested_and_scored(db: None, tmp_path: Path) -> None:
    beir = load_beir(_dataset(tmp_path / "tiny"))
    assert set(beir.queries) == {"q1", "q2"}
    workspace = ingest(beir, "eval:tiny")
    chunks = Chunk.objects.filter(workspace=workspace)
    assert chunks.count() == 3
    assert chunks.get(document__title="d1").text == (
        "Llamas\n\nLlamas graze on alpine grass."
    )
    scores = evaluate(beir, workspace)
    assert set(scores) == {"dense", "full-text", "hybrid"}
    for ndcg, recall in scores.values():
        assert ndcg == pytest.approx(1.0) and recall == 1.0


def test_cost_uses_the_longest_matching_price(settings: Any) -> None:
    settings.CLAUDE_PRICES = {
        "claude-sonnet": {
            "input": 3.0,
            "output": 15.0,
            "cache_read": 0.3,
            "cache_write": 3.75,
        },
        "claude-sonnet-4-6": {
            "input": 1.0,
            "output": 2.0,
            "cache_read": 0.5,
            "cache_write": 4.0,
        },
    }
    usage = {
        "input_tokens": 1_000_000,
        "output_tokens": 500_000,
        "cache_read_tokens": 2_000_000,
        "cache_write_tokens": 0,
    }
    assert answer_cost("claude-sonnet-4-6-20260101", usage) == Decimal("3.000000")
    assert answer_cost("unknown-model", usage) == Decimal(0)


def test_the_command_measures_the_configured_embedder(
    db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An install still on the first offline embedder: the command finishes the
    # pending switch before it measures, or it would score the old vectors.
    with monkeypatch.context() as patch:
        patch.setattr(OfflineEmbedder, "name", "offline-lexical-v1")
        ensure_active_space()
    out = StringIO()
    call_command("eval_retrieval", "--beir", str(_dataset(tmp_path / "t")), stdout=out)
    printed = out.getvalue()
    assert "active offline-lexical-v1/1024, desired offline-lexical-v2/1024" in printed
    assert "offline-lexical-v2/1024: active after" in printed
    assert "embedder offline-lexical-v2/1024" in printed
    assert "hybrid" in printed
    assert not Workspace.objects.filter(name__startswith="eval:").exists()
