"""GET /metrics: Prometheus text, for a bearer METRICS_TOKEN or an allowed address.

Counters and histograms come from every process of this machine (the files of
prometheus_client's multiprocess mode under METRICS_DIR), or from this process
alone when it runs outside `project.run` (`manage.py runserver`, tests).
Documents by status and queue depths are read from the database and the broker
at each scrape, so every web instance reports the same numbers.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from documents import health

log = logging.getLogger(__name__)


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Every Cairn metric, to a scraper that shows the token or an allowed address."""
    if not settings.METRICS_TOKEN and not settings.METRICS_ALLOWED_IPS:
        raise Http404("metrics are off")
    if not scrape_allowed(request):
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ProcessMetrics())
    registry.register(StateMetrics())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def scrape_allowed(request: HttpRequest) -> bool:
    """The bearer token matches, or the caller's address is in the allowlist."""
    token = str(settings.METRICS_TOKEN)
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    sent = sent.strip()
    if (
        token
        and scheme.lower() == "bearer"
        and hmac.compare_digest(sent.encode(), token.encode())
    ):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in settings.METRICS_ALLOWED_IPS)


def multiprocess_files() -> list[str]:
    """The metric files of every process on this machine (tiers in subfolders)."""
    root = Path(settings.METRICS_DIR)
    found = {*root.glob("*.db"), *root.glob("*/*.db")}
    own = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if own:
        found.update(Path(own).glob("*.db"))
    return sorted(str(path) for path in found)


class ProcessMetrics:
    """The counters and histograms of project.metrics, summed over processes."""

    def collect(self) -> Iterable[Metric]:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            merged: Iterable[Metric] = MultiProcessCollector.merge(  # type: ignore[no-untyped-call]
                multiprocess_files()
            )
            return merged
        return REGISTRY.collect()


class StateMetrics:
    """Documents by status and the queues, read when scraped."""

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "cairn_up", "1 when the scrape could read this part.", labels=["part"]
        )
        yield from self._documents(up)
        yield from self._broker(up)
        yield up

    def _documents(self, up: GaugeMetricFamily) -> Iterable[Metric]:
        per_workspace = bool(settings.METRICS_PER_WORKSPACE)
        family = GaugeMetricFamily(
            "cairn_documents",
            "Documents by status" + (" and workspace." if per_workspace else "."),
            labels=["status", "workspace"] if per_workspace else ["status"],
        )
        try:
            if per_workspace:
                for (status, workspace), n in health.status_counts_by_workspace():
                    family.add_metric([status, workspace], n)
            else:
                for status, n in health.status_counts().items():
                    family.add_metric([status], n)
        except Exception:
            # A scrape during a database outage still reports what it can.
            log.warning("metrics: documents by status unavailable", exc_info=True)
            up.add_metric(["database"], 0)
            return
        up.add_metric(["database"], 1)
        yield family

    def _broker(self, up: GaugeMetricFamily) -> Iterable[Metric]:
        state = health.broker_state()
        if state.error:
            log.warning("metrics: broker unavailable: %s", state.error)
            up.add_metric(["broker"], 0)
            return
        up.add_metric(["broker"], 1)
        queues = GaugeMetricFamily(
            "cairn_queue_messages",
            "Messages in a Celery queue: waiting, or taken by a worker and not done.",
            labels=["queue", "state"],
        )
        for queue in state.queues:
            queues.add_metric([queue.name, "waiting"], queue.waiting)
            queues.add_metric([queue.name, "taken"], queue.taken)
        yield queues
        yield GaugeMetricFamily(
            "cairn_workers",
            "Celery workers whose heartbeat is fresh.",
            value=len(state.workers),
        )
