"""Prometheus metrics of the alerts shell, in a registry the daemon passes in.

Counters count events in this process (they restart from zero with it); the
backlog gauges are read from the outbox's committed state at scrape time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import NamedTuple

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


class Backlog(NamedTuple):
    """Deliveries to one destination not yet accepted; `oldest_due` is a POSIX time."""

    pending: int
    oldest_due: float | None


class _BacklogCollector(Collector):
    def __init__(self, metrics: AlertMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[GaugeMetricFamily]:
        backlog = GaugeMetricFamily(
            "witnessnet_alerts_outbox_backlog",
            "Deliveries in the outbox not yet accepted by the destination (warn holds included).",
            labels=["destination"],
        )
        age = GaugeMetricFamily(
            "witnessnet_alerts_outbox_oldest_pending_age_seconds",
            "Seconds since the oldest pending delivery became due (0 if none is due).",
            labels=["destination"],
        )
        now = self._metrics.clock()
        for name, label in self._metrics.labels.items():
            pending, oldest = self._metrics.backlog().get(name, Backlog(0, None))
            backlog.add_metric([label], pending)
            age.add_metric([label], 0.0 if oldest is None else max(0.0, now - oldest))
        yield backlog
        yield age


class AlertMetrics:
    """The alert counters and backlog gauges, registered in `registry`."""

    def __init__(self, registry: CollectorRegistry, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.labels: Mapping[str, str] = {}
        self.backlog: Callable[[], Mapping[str, Backlog]] = dict
        self.raised = Counter(
            "witnessnet_alerts_raised",
            "Alerts stored in the outbox, by class and kind (re-raised duplicates excluded).",
            ["class", "kind"],
            registry=registry,
        )
        self.deduplicated = Counter(
            "witnessnet_alerts_deduplicated",
            "Raises of a condition already in the outbox, which stored nothing.",
            ["class", "kind"],
            registry=registry,
        )
        self.resolved = Counter(
            "witnessnet_alerts_resolved",
            "Open conditions resolved, by class and kind.",
            ["class", "kind"],
            registry=registry,
        )
        self.delivered = Counter(
            "witnessnet_alerts_delivered",
            "Alerts a destination accepted, by destination and class.",
            ["destination", "class"],
            registry=registry,
        )
        self.failed = Counter(
            "witnessnet_alerts_delivery_failures",
            "Delivery attempts that failed, by destination and outcome (retry or permanent).",
            ["destination", "outcome"],
            registry=registry,
        )
        registry.register(_BacklogCollector(self))

    def track(
        self, backlog: Callable[[], Mapping[str, Backlog]], labels: Mapping[str, str]
    ) -> None:
        """Report `backlog()` (by destination name) under `labels[name]` at every scrape."""
        self.backlog = backlog
        self.labels = dict(labels)
