"""The monitor's Prometheus metrics (the names are an interface: alert rules and
dashboards use them).

    monitor_entries_checked_total{log}          entries checked by this process
    monitor_findings_total{log,rule}            findings recorded in the state file
    monitor_log_verified_size{log}              size of the newest verified checkpoint
    monitor_cursor_size{log}                    entries checked so far (the cursor)
    monitor_last_pass_timestamp_seconds{log}    unix time of the last completed pass
    monitor_pass_errors_total{log,kind}         passes that failed, by kind

All are read at scrape time, every label set present from the start: entries,
pass errors and pass times from MonitorStatus (counted from zero at start);
findings, cursors and verified sizes from the state database, so that the
findings counter survives restarts and counts each finding once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from monitor.progress import Progress
from monitor.rules import SEVERITY
from monitor.status import ERROR_KINDS, MonitorStatus, read_snapshot


class MonitorCollector(Collector):
    """The six monitor metrics of `status` and the state database at `state`."""

    def __init__(self, status: MonitorStatus, state: Path) -> None:
        self._status = status
        self._state = state

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        snapshot = read_snapshot(self._state, 0)
        entries = CounterMetricFamily(
            "monitor_entries_checked",
            "Entries checked (hashed into the verified tree, claims checked) by this process.",
            labels=["log"],
        )
        findings = CounterMetricFamily(
            "monitor_findings",
            "Findings recorded (each once, in the state file), by log and rule.",
            labels=["log", "rule"],
        )
        verified = GaugeMetricFamily(
            "monitor_log_verified_size",
            "Size of the newest checkpoint the log's entries were verified against.",
            labels=["log"],
        )
        cursor = GaugeMetricFamily(
            "monitor_cursor_size", "Entries of the log checked so far.", labels=["log"]
        )
        last_pass = GaugeMetricFamily(
            "monitor_last_pass_timestamp_seconds",
            "Unix time of the log's last completed pass (0: none since start).",
            labels=["log"],
        )
        errors = CounterMetricFamily(
            "monitor_pass_errors",
            "Passes that failed, by kind (" + ", ".join(ERROR_KINDS) + ").",
            labels=["log", "kind"],
        )
        for name, log in self._status.logs.items():
            entries.add_metric([name], self._status.entries[name])
            for rule in SEVERITY:
                findings.add_metric([name, rule], snapshot.counts.get((name, rule), 0))
            row = snapshot.cursors.get(name)
            verified.add_metric([name], 0 if row is None else row.size)
            cursor.add_metric([name], 0 if row is None else row.next)
            last_pass.add_metric([name], log.last_pass or 0)
            for kind in ERROR_KINDS:
                errors.add_metric([name, kind], self._status.errors[(name, kind)])
        yield from (entries, findings, verified, cursor, last_pass, errors)


def register(registry: CollectorRegistry, status: MonitorStatus, state: Path) -> None:
    """Add the monitor metrics to `registry`."""
    registry.register(MonitorCollector(status, state))


class CountingProgress:
    """Forwards to a Progress and counts the entries each update adds in `status.entries`
    (the follower reports after every committed batch)."""

    def __init__(self, inner: Progress, status: MonitorStatus) -> None:
        self._inner = inner
        self._status = status
        self._done: dict[str, int] = {}

    def _count(self, log: str, done: int) -> None:
        added = done - self._done.get(log, 0)
        if added > 0 and log in self._status.entries:
            self._status.entries[log] += added
        self._done[log] = done

    def update(self, log: str, done: int, total: int) -> None:
        self._count(log, done)
        self._inner.update(log, done, total)

    def finish(self, log: str, done: int, total: int) -> None:
        self._count(log, done)
        self._done.pop(log, None)
        self._inner.finish(log, done, total)
