"""The Voyage models in the settings: checked at start, rerankers through the fake."""

from __future__ import annotations

from typing import Any

import pytest
import voyageai.error
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from documents.checks import voyage_models_check
from documents.remote.reranking import RERANK_MODELS, get_reranker
from tests.fakes.voyage import FakeVoyage


def _ids() -> list[str | None]:
    return [message.id for message in voyage_models_check()]


def test_the_defaults_pass_the_start_up_check(online: Any) -> None:
    assert (online.EMBEDDING_MODEL, online.RERANK_MODEL) == ("voyage-4", "rerank-2.5")
    assert _ids() == []
    online.EMBEDDING_MODEL = "voyage-context-3"
    online.RERANK_MODEL = "rerank-2.5-lite"
    assert _ids() == []
    online.RERANK_MODEL = ""  # reranking off
    assert _ids() == []


@pytest.mark.parametrize(
    ("setting", "value", "error"),
    [
        ("EMBEDDING_MODEL", "voyage-5", "documents.E001"),
        ("EMBEDDING_DIMENSIONS", 768, "documents.E002"),
        ("RERANK_MODEL", "rerank-3", "documents.E003"),
    ],
)
def test_start_up_refuses_a_model_or_width_voyage_lacks(
    online: Any, setting: str, value: Any, error: str
) -> None:
    setattr(online, setting, value)
    with pytest.raises(SystemCheckError, match=error):
        call_command("check")


def test_a_fixed_width_model_takes_only_1024(online: Any) -> None:
    online.EMBEDDING_MODEL = "voyage-law-2"
    online.EMBEDDING_DIMENSIONS = 512
    assert _ids() == ["documents.E002"]


def test_offline_nothing_is_checked(settings: Any) -> None:
    settings.RERANK_MODEL = "rerank-3"
    assert _ids() == []


@pytest.mark.parametrize("model", RERANK_MODELS)
def test_each_current_reranker_orders_through_the_fake(
    online: Any, fake_voyage: FakeVoyage, model: str
) -> None:
    online.RERANK_MODEL = model
    reranker = get_reranker()
    assert reranker is not None
    order = reranker.rerank(
        "paid vacation days", ["The office closes at six.", "Paid vacation: 25 days."]
    )
    assert order == [1, 0]
    assert fake_voyage.requests[-1].body["model"] == model


def test_the_fake_refuses_an_unknown_reranker(online: Any) -> None:
    online.RERANK_MODEL = "rerank-3"
    reranker = get_reranker()
    assert reranker is not None
    with pytest.raises(voyageai.error.InvalidRequestError, match="not supported"):
        reranker.rerank("q", ["a", "b"])
