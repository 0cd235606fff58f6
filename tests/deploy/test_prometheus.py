"""A real Prometheus scrapes real daemons on 127.0.0.1: every metric that the alert rules and
the dashboards name must exist, and the equivocation alert must fire on a staged fork.

The network: a reference log with its fork drill, two gossiping witnesses, one following the
main log and one the fork (so they find a split view and hold evidence), and, where the
monitor serves /metrics, a monitor following the log. The witnesses also meet the faults
that make their error counters exist: a log and a log list at a dead address, a webhook that
cannot be reached, an add-checkpoint for an unknown log, one over the body size limit and a
malformed gossip message. The scrape config is deploy/prometheus/prometheus.yml with the
targets and intervals replaced, and Prometheus evaluates deploy/prometheus/rules/witnessnet.yml.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from monitor.config import MonitorConfig
from tests.deploy.conftest import PrometheusTools
from tests.deploy.promql import RULES, SCRAPE_CONFIG, alert_rules, named_metrics
from tests.gossip.procs import (
    ForkedLog,
    WitnessSpec,
    checkpoint_size,
    free_port,
    grow,
    network_file,
    start_forked_log,
    start_witnesses,
    stop,
    wait_for,
    write_witness,
)
from tests.witness.helpers import ToyLog
from tlog.keys import Ed25519Signer

ORIGIN = "prom.fork.test/log"
KEYS = [
    Ed25519Signer(f"w{i}.prom.test", hashlib.sha256(f"prometheus witness {i}".encode()).digest())
    for i in range(2)
]
GOSSIP = {"interval_seconds": 0.3, "timeout_seconds": 1, "proof_attempts": 2}
DEADLINE = 90.0
MONITOR_LISTEN = "listen" in {f.name for f in dataclasses.fields(MonitorConfig)}
NO_MONITOR = (
    "the monitor has no `listen` config yet (monitor.config.MonitorConfig), so it serves no "
    "/metrics to scrape: monitor_* metrics named in the rules and dashboards are unchecked"
)


@dataclass
class Net:
    prometheus: str
    witnesses: list[str]
    monitor: str | None
    http: httpx.Client

    def query(self, promql: str) -> list[dict[str, Any]]:
        resp = self.http.get(f"{self.prometheus}/api/v1/query", params={"query": promql})
        assert resp.status_code == 200, resp.text
        return list(resp.json()["data"]["result"])

    def present(self, names: set[str]) -> set[str]:
        """Which of `names` have at least one series in Prometheus now."""
        pattern = "|".join(sorted(names))
        result = self.query(f'count by (__name__) ({{__name__=~"{pattern}"}})')
        return {r["metric"]["__name__"] for r in result}


def _witness_configs(tmp: Path, log: ForkedLog) -> list[Path]:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    specs = [WitnessSpec(key, free_port()) for key in KEYS]
    network = network_file(tmp / "network.txt", specs)
    configs = []
    for i, spec in enumerate(specs):
        spec.logs = [
            {"origin": ORIGIN, "vkeys": [log.vkey], "tiles_url": log.fork_url if i else log.url},
            {"origin": "dead.prom.test/log", "vkeys": [ToyLog("dead", 1).vkey],
             "tiles_url": f"{dead}/log/"},
        ]  # fmt: skip
        alerts = {
            "webhooks": [f"{dead}/hook"],
            "log_file": "alerts.jsonl",
            "warn_hold_seconds": 0,
            "retry_initial_seconds": 0.2,
            "retry_max_seconds": 1,
        }
        config = write_witness(tmp / f"w{i}", spec, network, gossip=GOSSIP, alerts=alerts)
        # Top-level keys go before the first table.
        text = config.read_text().replace(
            "poll_interval = 0.3\n",
            f'poll_interval = 0.3\nlog_lists = ["{dead}/list"]\nlog_list_interval = 0.5\n',
        )
        config.write_text(text)
        configs.append(config)
    return configs


def _start_monitor(tmp: Path, log: ForkedLog) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    directory = tmp / "monitor"
    directory.mkdir()
    dead = f"http://127.0.0.1:{free_port()}"
    config = directory / "monitor.toml"
    config.write_text(
        "\n".join([
            'state = "monitor.db"',
            f'listen = "127.0.0.1:{port}"',
            "poll_interval = 0.5",
            "timeout = 1",
            "",
            "[[logs]]",
            'name = "main"',
            f"origin = {json.dumps(ORIGIN)}",
            f"vkey = {json.dumps(log.vkey)}",
            f"url = {json.dumps(log.url + '/')}",
            # The log's entries are not release notes: each is a malformed-entry finding.
            'claims = ["witnessnet-release"]',
            "",
            "[[logs]]",
            'name = "dead"',
            'origin = "dead.prom.test/log"',
            f"vkey = {json.dumps(ToyLog('dead', 1).vkey)}",
            f"url = {json.dumps(dead + '/log/')}",
            "claims = []",
            "",
            "[[sinks]]",
            'type = "jsonl"',
            'path = "findings.jsonl"',
        ]) + "\n"
    )  # fmt: skip
    argv = [sys.executable, "-m", "witnessnet", "monitor", "run", "--config", str(config)]
    with open(directory / "stderr.log", "ab") as stderr:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr)
    return proc, f"127.0.0.1:{port}"


def _scrape_config(tmp: Path, witnesses: list[str], monitor: str | None) -> Path:
    """deploy/prometheus/prometheus.yml with our targets, 1 s intervals and the rules file."""
    doc = yaml.safe_load(SCRAPE_CONFIG.read_text())
    doc["global"] = {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"}
    doc["rule_files"] = [str(RULES)]
    targets = {"witnessnet-witness": witnesses, "witnessnet-monitor": [monitor] if monitor else []}
    jobs = [job["job_name"] for job in doc["scrape_configs"]]
    assert sorted(jobs) == sorted(targets), "deploy/prometheus/prometheus.yml jobs changed"
    doc["scrape_configs"] = [job for job in doc["scrape_configs"] if targets[job["job_name"]]]
    for job in doc["scrape_configs"]:
        job["static_configs"] = [{"targets": targets[job["job_name"]]}]
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture(scope="module")
def net(
    prometheus_tools: PrometheusTools, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Net]:
    tmp = tmp_path_factory.mktemp("prometheus")
    procs: list[subprocess.Popen[bytes]] = []
    with httpx.Client(timeout=10) as http:
        try:
            log = start_forked_log(tmp / "log", ORIGIN, fork_at=3)
            procs.append(log.proc)
            grow(http, log.url, 6, "entry")
            wait_for("the fork to grow", lambda: checkpoint_size(http, log.fork_url) == 6)
            started = start_witnesses(_witness_configs(tmp, log))
            procs += [p for p, _ in started]
            urls = [str(ready["url"]) for _, ready in started]
            unknown = ToyLog("unknown.prom.test/log", 2).body(0, 2)
            for url in urls:
                assert http.post(f"{url}/add-checkpoint", content=unknown).status_code == 404
                assert http.post(f"{url}/gossip/v1", content=b"\x00junk").status_code == 400
                big = b"x" * (65 * 1024)  # over the 64 KiB limit: witness_limited_requests
                assert http.post(f"{url}/add-checkpoint", content=big).status_code == 413
            monitor = None
            if MONITOR_LISTEN:
                proc, monitor = _start_monitor(tmp, log)
                procs.append(proc)
            port = free_port()
            config = _scrape_config(tmp, [u.removeprefix("http://") for u in urls], monitor)
            argv = [
                prometheus_tools.prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ]  # fmt: skip
            with open(tmp / "prometheus.log", "ab") as out:
                procs.append(subprocess.Popen(argv, stdout=out, stderr=out))
            url = f"http://127.0.0.1:{port}"

            def ready() -> bool:
                try:
                    return http.get(f"{url}/-/ready").status_code == 200
                except httpx.TransportError:
                    assert procs[-1].poll() is None, (tmp / "prometheus.log").read_text()
                    return False

            wait_for("Prometheus to be ready", ready, DEADLINE)
            yield Net(url, urls, monitor, http)
        finally:
            stop(reversed(procs))


def _wait_for_series(net: Net, names: dict[str, set[str]]) -> None:
    missing: set[str] = set(names)

    def all_there() -> bool:
        nonlocal missing
        missing = set(names) - net.present(set(names))
        return not missing

    try:
        wait_for("every named metric to have series", all_there, DEADLINE)
    except AssertionError:
        detail = "; ".join(f"{n} (used in {', '.join(sorted(names[n]))})" for n in sorted(missing))
        raise AssertionError(f"no series in Prometheus for: {detail}") from None


def test_witness_metrics_named_by_rules_and_dashboards_exist(net: Net) -> None:
    names = {n: w for n, w in named_metrics().items() if not n.startswith("monitor_")}
    assert "witness_advances_total" in names  # the dashboards are read at all
    _wait_for_series(net, names)

    def both_up() -> bool:
        return [r["value"][1] for r in net.query('up{job="witnessnet-witness"}')] == ["1", "1"]

    wait_for("both witnesses to be scraped", both_up, DEADLINE)


def test_monitor_metrics_named_by_rules_and_dashboards_exist(net: Net) -> None:
    if net.monitor is None:
        pytest.skip(NO_MONITOR)
    names = {n: w for n, w in named_metrics().items() if n.startswith("monitor_")}
    assert "monitor_findings_total" in names
    _wait_for_series(net, names)


def test_equivocation_alert_fires_for_both_witnesses(net: Net) -> None:
    def firing() -> set[str]:
        alerts = net.http.get(f"{net.prometheus}/api/v1/alerts").json()["data"]["alerts"]
        return {
            a["labels"]["instance"]
            for a in alerts
            if a["labels"]["alertname"] == "WitnessnetEquivocationEvidence"
            and a["state"] == "firing"
            and a["labels"]["severity"] == "page"
        }

    instances = {u.removeprefix("http://") for u in net.witnesses}
    wait_for("the equivocation alert to fire", lambda: firing() == instances, DEADLINE)


def test_every_rule_evaluates_without_error(net: Net) -> None:
    """On real series: no rule fails at evaluation (e.g. a many-to-many match)."""

    def rules() -> list[dict[str, Any]]:
        groups = net.http.get(f"{net.prometheus}/api/v1/rules").json()["data"]["groups"]
        return [rule for group in groups for rule in group["rules"]]

    def all_evaluated() -> bool:
        return all(r["health"] != "unknown" for r in rules())

    wait_for("every rule to be evaluated", all_evaluated, DEADLINE)
    assert {r["name"]: r["health"] for r in rules()} == {r["name"]: "ok" for r in rules()}
    assert {r["name"] for r in rules()} == {r["alert"] for r in alert_rules()}
