"""Prometheus metrics of gossip, registered in the witness's registry.

Counters move as exchanges and messages finish; the gauges of evidence held
and frozen logs are read from the gossip state at scrape time.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from gossip.state import GossipState


class _StateCollector(Collector):
    def __init__(self, state: GossipState) -> None:
        self._state = state

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        held = GaugeMetricFamily(
            "witnessnet_gossip_evidence_held",
            "Evidence and suspicion files this witness holds, by kind.",
            labels=["kind"],
        )
        kinds: dict[str, int] = {}
        for h in self._state.held.values():
            kinds[h.kind] = kinds.get(h.kind, 0) + 1
        for kind, count in sorted(kinds.items()):
            held.add_metric([kind], count)
        yield held
        yield GaugeMetricFamily(
            "witnessnet_gossip_frozen_logs",
            "Logs frozen for cosigning because this witness holds proof that they forked.",
            len(self._state.frozen),
        )
        yield CounterMetricFamily(
            "witnessnet_gossip_evidence_over_limit",
            "Evidence or suspicion files not stored: their log already had the most it may hold.",
            self._state.over_limit,
        )


class GossipMetrics:
    """The gossip counters, and gauges read from `state`."""

    def __init__(self, registry: CollectorRegistry, state: GossipState) -> None:
        self.exchanges = Counter(
            "witnessnet_gossip_exchanges",
            "Exchanges this witness started, by outcome (in_sync, exchanged, unreachable, "
            "refused, bad_response).",
            ["outcome"],
            registry=registry,
        )
        self.rejected = Counter(
            "witnessnet_gossip_messages_rejected",
            "Gossip messages (requests and responses) rejected, by reason.",
            ["reason"],
            registry=registry,
        )
        self.checkpoints = Counter(
            "witnessnet_gossip_checkpoints",
            "Checkpoints received from peers (or kept by the witness as rejected), by outcome.",
            ["outcome"],
            registry=registry,
        )
        self.evidence = Counter(
            "witnessnet_gossip_evidence_received",
            "Evidence files received from peers, by outcome (proven, suspected, already_known, "
            "rejected).",
            ["outcome"],
            registry=registry,
        )
        self.suspicions = Counter(
            "witnessnet_gossip_suspicions",
            "Suspicions this witness signed: a log did not produce a needed consistency proof.",
            registry=registry,
        )
        self.dropped = Counter(
            "witnessnet_gossip_jobs_dropped",
            "Background jobs (proof fetches, evidence pushes) dropped because the queue was full.",
            registry=registry,
        )
        registry.register(_StateCollector(state))
