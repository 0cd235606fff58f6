"""Prometheus metrics of one witness, in a registry of its own.

Counters are updated as requests finish; per-log gauges are computed from the
committed state at scrape time, so 40,000 logs cost nothing between scrapes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from witness.store import Store


class _StateCollector(Collector):
    def __init__(self, store: Store, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        size = GaugeMetricFamily(
            "witness_log_size", "Size of the latest cosigned checkpoint.", labels=["origin"]
        )
        stamp = GaugeMetricFamily(
            "witness_log_last_advance_timestamp_seconds",
            "POSIX time of the last advance of the log's stored checkpoint.",
            labels=["origin"],
        )
        age = GaugeMetricFamily(
            "witness_log_last_advance_age_seconds",
            "Seconds since the last advance of the log's stored checkpoint.",
            labels=["origin"],
        )
        now = self._clock()
        for state in self._store.all_logs():
            size.add_metric([state.origin], state.size)
            if state.updated is not None:
                stamp.add_metric([state.origin], state.updated)
                age.add_metric([state.origin], max(0.0, now - state.updated))
        yield size
        yield stamp
        yield age
        yield CounterMetricFamily(
            "witness_store_commits", "Transactions committed by the writer.", self._store.commits
        )
        yield CounterMetricFamily(
            "witness_store_committed_operations",
            "Operations committed; divided by commits, the mean group-commit batch.",
            self._store.committed_ops,
        )


class WitnessMetrics:
    """The witness's metrics; `render()` is the /metrics body."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "witness_http_requests",
            "HTTP requests by endpoint and status code.",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.advances = Counter(
            "witness_advances", "Checkpoints that advanced a log's state.", registry=self.registry
        )
        self.cosignatures = Counter(
            "witness_cosignatures", "Checkpoints cosigned.", registry=self.registry
        )
        self.rejections = Counter(
            "witness_rejections",
            "add-checkpoint requests not cosigned, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.feeder_errors = Counter(
            "witness_feeder_errors",
            "Feeder polls that did not bring the log's checkpoint in, by origin and kind.",
            ["origin", "kind"],
            registry=self.registry,
        )
        self.log_list_errors = Counter(
            "witness_log_list_errors",
            "Log list fetches that failed, by list URL and kind.",
            ["list", "kind"],
            registry=self.registry,
        )
        self.limited = Counter(
            "witness_limited_requests",
            "Requests refused by an abuse limit (docs/witness.md, Limits), by limit.",
            ["limit"],
            registry=self.registry,
        )
        self.connection_errors = Counter(
            "witness_http_connection_errors",
            "Connections ended by a failure inside the HTTP server (witness.connguard).",
            registry=self.registry,
        )
        self.latency = Histogram(
            "witness_add_checkpoint_seconds",
            "Time from a whole request body to its outcome (verify, commit, sign).",
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0),
            registry=self.registry,
        )
        self.registry.register(_StateCollector(store, clock))

    def render(self) -> bytes:
        return generate_latest(self.registry)
