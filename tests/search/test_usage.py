"""Usage aggregation and the estimated cost from the price table."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from documents.models import Workspace
from search.claude_answer import usage_of
from search.models import Answer, Question
from search.usage import chart_bars, estimate_cost, price_for, usage_by
from tests.factories import make_user


def _answer(
    workspace: Any, user: Any, model: str, days_ago: int = 0, **tokens: int
) -> Answer:
    question = Question.objects.create(workspace=workspace, user=user, text="q")
    answer = Answer.objects.create(
        question=question, mode="claude", model=model, text="a", **tokens
    )
    when = timezone.now() - timedelta(days=days_ago)
    Answer.objects.filter(id=answer.id).update(created=when)
    return answer


def test_estimate_cost_uses_the_price_table(settings: Any) -> None:
    settings.CLAUDE_PRICES = {
        "claude-x": {
            "input": "3",
            "output": "15",
            "cache_read": "0.30",
            "cache_write": "3.75",
        }
    }
    cost = estimate_cost("claude-x", 1_000_000, 100_000, 2_000_000, 10_000)
    assert cost == Decimal("3") + Decimal("1.5") + Decimal("0.6") + Decimal("0.0375")
    # A dated id takes its family's price; an unknown model costs nothing.
    assert price_for("claude-x-20250101") == price_for("claude-x")
    assert price_for("claude-xy") is None
    assert estimate_cost("gpt-4", 1_000_000, 0, 0, 0) == Decimal(0)


def test_usage_is_summed_per_day_workspace_and_user(db: None, settings: Any) -> None:
    settings.CLAUDE_PRICES = {
        "claude-x": {"input": "1", "output": "2", "cache_read": "0", "cache_write": "0"}
    }
    alice, bob = make_user(), make_user()
    red, blue = (
        Workspace.objects.create(name="red"),
        Workspace.objects.create(name="blue"),
    )
    _answer(red, alice, "claude-x", input_tokens=1_000_000, output_tokens=500_000)
    _answer(red, bob, "claude-x", input_tokens=2_000_000, cache_read_tokens=7)
    _answer(blue, bob, "claude-x", days_ago=2, output_tokens=1_000_000)
    Answer.objects.create(
        question=Question.objects.create(workspace=blue, user=alice, text="q"),
        mode="offline",
        text="a",
    )
    _answer(red, alice, "claude-x", days_ago=40, input_tokens=9_000_000)

    by_day = usage_by("day", days=30)
    assert len(by_day) == 30
    today = by_day[-1]
    assert today.answers == 3 and today.input == 3_000_000 and today.cache_read == 7
    assert today.cost == Decimal("4")
    assert by_day[-3].cost == Decimal("2") and by_day[-3].output == 1_000_000
    assert sum(r.answers for r in by_day) == 4  # the 40-day-old one is out

    workspaces = {r.label: r for r in usage_by("workspace", days=30)}
    assert workspaces["red"].cost == Decimal("4") and workspaces["red"].answers == 2
    assert workspaces["blue"].cost == Decimal("2") and workspaces["blue"].answers == 2
    users = {r.label: r for r in usage_by("user", days=30)}
    assert users[alice.username].cost == Decimal("2")
    assert users[bob.username].cost == Decimal("4")
    assert users[bob.username].output == 1_000_000

    bars = chart_bars(by_day, height=120)
    assert len(bars) == 30
    assert bars[-1]["height"] == 110.0 and bars[-3]["height"] == 55.0
    assert bars[0]["height"] == 0.0


def test_an_unpriced_model_is_flagged(db: None, settings: Any) -> None:
    settings.CLAUDE_PRICES = {}
    user = make_user()
    workspace = Workspace.objects.create(name="w")
    _answer(workspace, user, "claude-new", input_tokens=10)
    row = usage_by("workspace", days=1)[0]
    assert row.cost == Decimal(0) and row.unpriced_models == {"claude-new"}


def test_offline_answers_are_counted_but_never_called_unpriced(
    db: None, settings: Any
) -> None:
    settings.CLAUDE_PRICES = {}
    user = make_user()
    workspace = Workspace.objects.create(name="w")
    for _ in range(2):
        Answer.objects.create(
            question=Question.objects.create(workspace=workspace, user=user, text="q"),
            mode="offline",
            model="offline-extractive",
            text="a",
        )
    row = usage_by("workspace", days=1)[0]
    assert row.answers == 2 and row.offline == 2 and row.all_offline
    assert row.unpriced_models == set() and row.cost == Decimal(0)


def test_one_hour_cache_writes_cost_twice_the_input_price(settings: Any) -> None:
    settings.CLAUDE_PRICES = {
        "claude-x": {
            "input": "3",
            "output": "15",
            "cache_read": "0.30",
            "cache_write": "3.75",
            "cache_write_1h": "6",
        },
        # No one-hour price named: twice the input price.
        "claude-y": {
            "input": "1",
            "output": "0",
            "cache_read": "0",
            "cache_write": "0",
        },
    }
    five_minutes = estimate_cost("claude-x", 0, 0, 0, 1_000_000)
    one_hour = estimate_cost("claude-x", 0, 0, 0, 1_000_000, cache_write_1h=1_000_000)
    mixed = estimate_cost("claude-x", 0, 0, 0, 1_000_000, cache_write_1h=250_000)
    assert (five_minutes, one_hour) == (Decimal("3.75"), Decimal("6"))
    assert mixed == Decimal("0.75") * Decimal("3.75") + Decimal("0.25") * 6
    assert price_for("claude-y")["cache_write_1h"] == Decimal(2)  # type: ignore[index]


def test_the_usage_page_prices_one_hour_writes_apart(db: None, settings: Any) -> None:
    settings.CLAUDE_PRICES = {
        "claude-x": {
            "input": "1",
            "output": "0",
            "cache_read": "0",
            "cache_write": "1.25",
            "cache_write_1h": "2",
        }
    }
    user, red = make_user(), Workspace.objects.create(name="red")
    _answer(red, user, "claude-x", cache_write_tokens=1_000_000)
    _answer(
        red,
        user,
        "claude-x",
        cache_write_tokens=1_000_000,
        cache_write_1h_tokens=1_000_000,
    )
    (row,) = usage_by("workspace", days=1)
    assert row.cache_write == 2_000_000 and row.cache_write_1h == 1_000_000
    assert row.cost == Decimal("3.25")


def test_writes_without_a_ttl_breakdown_take_the_ttl_cairn_asked_for(
    settings: Any,
) -> None:
    raw = {"input_tokens": 5, "output_tokens": 7, "cache_creation_input_tokens": 40}
    settings.CLAUDE_CACHE_TTL = "1h"
    assert usage_of(raw)["cache_write_1h_tokens"] == 40
    settings.CLAUDE_CACHE_TTL = "5m"
    assert usage_of(raw)["cache_write_1h_tokens"] == 0
    split = {
        **raw,
        "cache_creation": {
            "ephemeral_5m_input_tokens": 30,
            "ephemeral_1h_input_tokens": 10,
        },
    }
    assert usage_of(split) == {
        "input_tokens": 5,
        "output_tokens": 7,
        "cache_read_tokens": 0,
        "cache_write_tokens": 40,
        "cache_write_1h_tokens": 10,
    }
