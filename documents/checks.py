"""Start-up checks: the Voyage models and width in the settings must exist."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from documents.remote.embeddings import model_dimensions, voyage_models
from documents.remote.reranking import LEGACY_RERANK_MODELS, RERANK_MODELS


@register("voyage")
def voyage_models_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Refuse an EMBEDDING_MODEL, EMBEDDING_DIMENSIONS or RERANK_MODEL Voyage lacks.

    Online mode only. Without the check a typo fails every embedding request
    (and every search through the reranker) with a 400 instead of at start.
    """
    if not settings.VOYAGE_API_KEY:
        return []
    errors: list[CheckMessage] = []
    model = str(settings.EMBEDDING_MODEL)
    if model not in voyage_models():
        errors.append(
            Error(
                f"EMBEDDING_MODEL={model} is not a Voyage text embedding model.",
                hint="One of " + ", ".join(voyage_models()) + ".",
                id="documents.E001",
            )
        )
    elif int(settings.EMBEDDING_DIMENSIONS) not in model_dimensions(model):
        allowed = ", ".join(str(d) for d in model_dimensions(model))
        errors.append(
            Error(
                f"EMBEDDING_DIMENSIONS={settings.EMBEDDING_DIMENSIONS} is not an "
                f"output dimension of {model}.",
                hint=f"One of {allowed}.",
                id="documents.E002",
            )
        )
    rerank = str(settings.RERANK_MODEL)
    if rerank and rerank not in (*RERANK_MODELS, *LEGACY_RERANK_MODELS):
        errors.append(
            Error(
                f"RERANK_MODEL={rerank} is not a Voyage reranker.",
                hint="rerank-2.5 (quality) or rerank-2.5-lite (latency and cost); "
                "empty turns reranking off.",
                id="documents.E003",
            )
        )
    return errors
