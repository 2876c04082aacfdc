"""The acceptance measure on BEIR SciFact (shared/data, beside the repository).

With the offline embedder, hybrid retrieval must beat full-text search alone.
This is a quality floor, not a timing: it ingests the 5,183 abstracts and runs
the 300 test queries through the same code as `manage.py eval_retrieval`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from search.evaluation import evaluate, ingest, load_beir

SCIFACT = Path(settings.BASE_DIR).parent / "shared" / "data" / "scifact"


@pytest.mark.skipif(
    not (SCIFACT / "corpus.jsonl").is_file(), reason="shared/data/scifact is absent"
)
def test_hybrid_beats_full_text_on_scifact_with_the_offline_embedder(db: None) -> None:
    beir = load_beir(SCIFACT)
    assert (len(beir.corpus), len(beir.queries)) == (5183, 300)
    scores = evaluate(beir, ingest(beir, "eval:scifact"))
    (dense, _), (text, text_recall), (hybrid, hybrid_recall) = (
        scores["dense"],
        scores["full-text"],
        scores["hybrid"],
    )
    print(f"SciFact nDCG@10 dense {dense:.3f} full-text {text:.3f} hybrid {hybrid:.3f}")
    assert hybrid > text
    assert hybrid_recall >= text_recall
    # The dense half is a signal of its own, not noise fused into the text one.
    assert dense > 0.5
