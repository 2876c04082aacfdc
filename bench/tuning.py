"""Choose retrieval constants on a development split, check them on a held-out one.

`python -m bench tuning [--beir ../shared/data/scifact]`

SciFact's test queries, sorted by id, alternate: even positions are the
development split (every grid below is searched on it), odd positions are
held out (only the chosen settings and the defaults are scored on them).
Grids, in order: BM25 k1 and b (full-text alone), the candidate budget, then
RRF k, the dense weight and the candidates per ranking (hybrid). Each step
keeps the best of the step before.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import Any

from bench.corpus import setup_django

BASE_DIR = Path(__file__).resolve().parent.parent
DEPTH = 100


def _scifact(path: Path) -> tuple[Any, Any]:
    """The BEIR dataset and its workspace (loaded once, then reused)."""
    from documents.ingestion.spaces import get_embedder
    from documents.models import Workspace
    from search import evaluation

    beir = evaluation.load_beir(path)
    name = f"eval:{path.name}:{get_embedder().name}"
    workspace = Workspace.objects.filter(name=name).first()
    if workspace is None or workspace.documents.count() != len(beir.corpus):
        print(f"loading {len(beir.corpus)} documents into {name} ...")
        workspace = evaluation.ingest(beir, name)
    return beir, workspace


def _ndcg(
    runs: dict[str, list[int]], beir: Any, corpus_of: dict[int, str], ids: list[str]
) -> float:
    from search.evaluation import ndcg_at

    total = 0.0
    for query_id in ids:
        ranked = [corpus_of[i] for i in runs[query_id] if i in corpus_of]
        total += ndcg_at(ranked, beir.qrels[query_id])
    return total / len(ids)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench tuning")
    parser.add_argument(
        "--beir", type=Path, default=BASE_DIR.parent / "shared" / "data" / "scifact"
    )
    args, _ = parser.parse_known_args(argv)
    if not (args.beir / "corpus.jsonl").is_file():
        args.beir = Path("/work/shared/data/scifact")
    setup_django()
    from django.conf import settings

    from documents.models import Chunk
    from search import bm25
    from search.retrieval import dense_ids, fuse, query_vector

    beir, workspace = _scifact(args.beir)
    corpus_of = dict(
        Chunk.objects.filter(workspace=workspace).values_list("id", "document__title")
    )
    ordered = sorted(beir.queries, key=lambda q: int(q) if q.isdigit() else q)
    dev, held = ordered[0::2], ordered[1::2]
    print(f"SciFact: {len(dev)} development queries, {len(held)} held out")

    def text_runs(**overrides: Any) -> dict[str, list[int]]:
        saved = {name: getattr(settings, name) for name in overrides}
        for name, value in overrides.items():
            setattr(settings, name, value)
        try:
            return {
                q: [i for i, _ in bm25.bm25_ids(workspace.id, beir.queries[q], DEPTH)]
                for q in ordered
            }
        finally:
            for name, value in saved.items():
                setattr(settings, name, value)

    def report(label: str, runs: dict[str, list[int]]) -> tuple[float, float]:
        scores = (
            _ndcg(runs, beir, corpus_of, dev),
            _ndcg(runs, beir, corpus_of, held),
        )
        print(f"  {label:<44} dev {scores[0]:.3f}   held-out {scores[1]:.3f}")
        return scores

    from django.db import connection

    from bench.corpus import LEGACY_TEXT_SQL

    def legacy(q: str) -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute(LEGACY_TEXT_SQL, [beir.queries[q], workspace.id, DEPTH])
            return [row[0] for row in cursor.fetchall()]

    legacy_text = {q: legacy(q) for q in ordered}
    report("before: ts_rank OR full-text", legacy_text)

    print("full-text (BM25) k1, b:")
    best: tuple[float, dict[str, Any]] = (-1.0, {})
    for k1, b in itertools.product((0.6, 0.9, 1.2, 1.5), (0.4, 0.6, 0.75, 0.9)):
        config = {"SEARCH_BM25_K1": k1, "SEARCH_BM25_B": b}
        score = report(f"k1={k1} b={b}", text_runs(**config))[0]
        if score > best[0]:
            best = (score, config)
    bm25_config = best[1]
    print(f"  chosen on dev: {bm25_config}")

    print("candidate budget:")
    for budget in (250, 500, 1000, 2000, 4000, 10**9):
        report(f"budget {budget}", text_runs(SEARCH_TEXT_BUDGET=budget, **bm25_config))

    text = text_runs(**bm25_config)
    dense = {
        q: dense_ids(workspace.id, query_vector(workspace.id, beir.queries[q]), DEPTH)
        for q in ordered
    }
    report("dense", dense)

    def hybrid(k: int, weight: float, candidates: int) -> dict[str, list[int]]:
        return {
            q: [
                i
                for i, _ in fuse(
                    [dense[q][:candidates], text[q][:candidates]],
                    k=k,
                    weights=[weight, 1.0],
                )
            ]
            for q in ordered
        }

    print("hybrid: RRF k, dense weight, candidates per ranking:")
    grid: list[tuple[float, tuple[int, float, int]]] = []
    for k, weight, candidates in itertools.product(
        (10, 30, 60, 100), (0.3, 0.5, 0.75, 1.0, 1.5), (20, 50, 100)
    ):
        runs = hybrid(k, weight, candidates)
        grid.append((_ndcg(runs, beir, corpus_of, dev), (k, weight, candidates)))
    grid.sort(reverse=True)
    for score, (k, weight, candidates) in grid[:5]:
        print(f"  dev {score:.3f}  k={k} dense weight={weight} candidates={candidates}")
    chosen = grid[0][1]
    defaults = (
        int(settings.SEARCH_RRF_K),
        float(settings.SEARCH_DENSE_WEIGHT),
        int(settings.SEARCH_CANDIDATES),
    )

    def show(c: tuple[int, float, int]) -> str:
        return f"k={c[0]} dense weight={c[1]} candidates={c[2]}"

    report(
        "before: dense + ts_rank OR, k=60 w=1 c=50",
        {
            q: [i for i, _ in fuse([dense[q][:50], legacy_text[q][:50]], k=60)]
            for q in ordered
        },
    )
    report(f"defaults {show(defaults)}", hybrid(*defaults))
    report(f"chosen {show(chosen)}", hybrid(*chosen))
    return 0
