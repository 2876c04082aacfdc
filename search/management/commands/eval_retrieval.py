"""Score Cairn's retrieval on a BEIR dataset (nDCG@10, recall@100)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from documents.ingestion import spaces
from documents.ingestion.spaces import get_embedder
from documents.models import Workspace
from search import evaluation


class Command(BaseCommand):
    help = "Ingest a BEIR dataset into a scratch workspace and score retrieval."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--beir",
            type=Path,
            default=Path(settings.BASE_DIR).parent / "shared" / "data" / "scifact",
            help="BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/).",
        )
        parser.add_argument("--split", default="test")
        parser.add_argument(
            "--keep",
            action="store_true",
            help="Keep the scratch workspace (and reuse it on the next run).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["beir"]
        if not (path / "corpus.jsonl").is_file():
            raise CommandError(f"{path} holds no corpus.jsonl")
        beir = evaluation.load_beir(path, options["split"])
        if spaces.desired_key() != spaces.active_key():
            # Measure the configured embedder, not the one a pending switch
            # (done later by the workers) is about to replace.
            call_command("embeddings_switch", "--now", stdout=self.stdout)
        embedder = get_embedder()
        name = f"eval:{path.name}:{embedder.name}"
        workspace = Workspace.objects.filter(name=name).first()
        reuse = (
            options["keep"]
            and workspace is not None
            and workspace.documents.count() == len(beir.corpus)
        )
        started = time.monotonic()
        if not reuse:
            self.stdout.write(
                f"Ingesting {len(beir.corpus)} documents with {embedder.name}..."
            )
            workspace = evaluation.ingest(beir, name)
            self.stdout.write(f"  done in {time.monotonic() - started:.1f} s")
        assert workspace is not None
        try:
            started = time.monotonic()
            scores = evaluation.evaluate(beir, workspace)
            elapsed = time.monotonic() - started
        finally:
            if not options["keep"]:
                workspace.delete()
        self.stdout.write(
            f"{path.name}: {len(beir.queries)} queries, {len(beir.corpus)} documents, "
            f"embedder {embedder.name}, RRF k={settings.SEARCH_RRF_K} weights "
            f"dense {settings.SEARCH_DENSE_WEIGHT} / text {settings.SEARCH_TEXT_WEIGHT}"
        )
        self.stdout.write(f"{'retrieval':<16}{'nDCG@10':>10}{'recall@100':>12}")
        for mode, (ndcg, recall) in scores.items():
            self.stdout.write(f"{mode:<16}{ndcg:>10.3f}{recall:>12.3f}")
        self.stdout.write(f"({elapsed:.1f} s for all queries)")
