"""Token usage and its estimated cost, per day, workspace and user."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from search.models import Answer

MILLION = Decimal(1_000_000)
# Token counts summed per usage row; cache_write counts writes of both TTLs,
# cache_write_1h the part of them written for an hour.
KINDS = ("input", "output", "cache_read", "cache_write", "cache_write_1h")
# A one-hour cache write costs twice the base input price (the pricing page's
# "1h cache writes"), the default when a price table entry does not name it.
CACHE_WRITE_1H_FACTOR = Decimal(2)


def price_for(model: str) -> dict[str, Decimal] | None:
    """Dollars per million tokens of each kind for a model, or None if unpriced.

    A dated model id ("claude-sonnet-4-5-20250929") takes its family's price.
    """
    table: dict[str, dict[str, str]] = settings.CLAUDE_PRICES
    for name in sorted(table, key=len, reverse=True):
        if model == name or model.startswith(name + "-"):
            entry = table[name]
            price = {kind: Decimal(entry[kind]) for kind in KINDS[:4]}
            price["cache_write_1h"] = Decimal(
                entry.get("cache_write_1h") or price["input"] * CACHE_WRITE_1H_FACTOR
            )
            return price
    return None


def estimate_cost(
    model: str,
    input: int,
    output: int,
    cache_read: int,
    cache_write: int,
    cache_write_1h: int = 0,
) -> Decimal:
    """Estimated US dollars for a call's tokens; zero for an unpriced model.

    cache_write counts every cache write; cache_write_1h of them were written
    with the one-hour TTL and cost its price, the rest the five-minute one.
    """
    price = price_for(model)
    if price is None:
        return Decimal(0)
    one_hour = min(cache_write_1h, cache_write)
    total = (
        input * price["input"]
        + output * price["output"]
        + cache_read * price["cache_read"]
        + (cache_write - one_hour) * price["cache_write"]
        + one_hour * price["cache_write_1h"]
    )
    return (total / MILLION).quantize(Decimal("0.000001"))


@dataclass
class Row:
    """Usage summed over one group (a day, a workspace or a user)."""

    key: Any
    label: str
    answers: int = 0
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    cache_write_1h: int = 0
    cost: Decimal = Decimal(0)
    unpriced_models: set[str] = field(default_factory=set)
    # Answers of the offline answerer: no tokens bought, nothing to price.
    offline: int = 0

    @property
    def all_offline(self) -> bool:
        return self.answers > 0 and self.offline == self.answers


def answer_cost(model: str, usage: dict[str, int]) -> Decimal:
    """US dollars for one answer, from its usage counts as stored on the Answer."""
    return estimate_cost(
        model,
        input=usage.get("input_tokens", 0),
        output=usage.get("output_tokens", 0),
        cache_read=usage.get("cache_read_tokens", 0),
        cache_write=usage.get("cache_write_tokens", 0),
        cache_write_1h=usage.get("cache_write_1h_tokens", 0),
    )


def _grouped(since: date, group: list[str]) -> list[dict[str, Any]]:
    """Answers since a day, summed per group and model (cost depends on model)."""
    return list(
        Answer.objects.filter(created__date__gte=since)
        .annotate(day=TruncDate("created"))
        .values(*group, "mode", "model")
        .annotate(
            answers=Count("id"),
            input=Sum("input_tokens"),
            output=Sum("output_tokens"),
            cache_read=Sum("cache_read_tokens"),
            cache_write=Sum("cache_write_tokens"),
            cache_write_1h=Sum("cache_write_1h_tokens"),
        )
        .order_by()
    )


def usage_by(group: str, *, days: int = 30) -> list[Row]:
    """Usage of the last `days` days by "day", "workspace" or "user"."""
    since = timezone.now().date() - timedelta(days=days - 1)
    fields = {
        "day": ["day"],
        "workspace": ["question__workspace_id", "question__workspace__name"],
        "user": ["question__user_id", "question__user__username"],
    }[group]
    rows: dict[Any, Row] = {}
    if group == "day":
        for offset in range(days):
            day = since + timedelta(days=offset)
            rows[day] = Row(key=day, label=day.isoformat())
    for item in _grouped(since, fields):
        key = item[fields[0]]
        label = str(item[fields[-1]] if group != "day" else key)
        row = rows.setdefault(key, Row(key=key, label=label or "(deleted)"))
        row.answers += item["answers"]
        for kind in KINDS:
            setattr(row, kind, getattr(row, kind) + (item[kind] or 0))
        if item["mode"] == Answer.Mode.OFFLINE:
            row.offline += item["answers"]
            continue
        if item["model"]:
            row.cost += estimate_cost(
                item["model"],
                item["input"] or 0,
                item["output"] or 0,
                item["cache_read"] or 0,
                item["cache_write"] or 0,
                item["cache_write_1h"] or 0,
            )
            if price_for(item["model"]) is None:
                row.unpriced_models.add(item["model"])
    ordered = list(rows.values())
    if group == "day":
        return sorted(ordered, key=lambda r: r.key)
    return sorted(ordered, key=lambda r: (-r.cost, -r.answers, r.label))


def chart_bars(
    rows: list[Row], *, width: int = 600, height: int = 120
) -> list[dict[str, Any]]:
    """Bars for an inline SVG chart of cost per day (no script, no CDN)."""
    if not rows:
        return []
    peak = max(row.cost for row in rows) or Decimal(1)
    step = width / len(rows)
    bars = []
    for index, row in enumerate(rows):
        bar_height = float(row.cost / peak) * (height - 10)
        bars.append(
            {
                "x": round(index * step + 1, 1),
                "y": round(height - bar_height, 1),
                "width": round(max(step - 2, 1), 1),
                "height": round(bar_height, 1),
                "label": f"{row.label}: ${row.cost:.4f}, {row.answers} answers",
            }
        )
    return bars
