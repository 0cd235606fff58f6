"""deploy/compose.yaml without Docker: every file it mounts exists, ports and volumes are
consistent, Prometheus scrapes the services where they listen, Grafana finds the dashboards,
and deploy/compose/init.sh (run here for real) writes configs that the daemons' own parsers
accept, naming only hosts and ports the compose file provides."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from gossip.membership import parse_network
from monitor.config import load_config as load_monitor_config
from tests.deploy.promql import DASHBOARDS, ROOT, SCRAPE_CONFIG, dashboard_files
from tlog.policy import parse_policy
from witness.config import load_config as load_witness_config

DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
STATE = "/var/lib/witnessnet"
WITNESSES = ["witness-1", "witness-2", "witness-3"]


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text()))


def services() -> dict[str, dict[str, Any]]:
    return dict(compose()["services"])


def command(service: dict[str, Any]) -> list[str]:
    """The service's arguments as one list (a `sh -c` script is split into words)."""
    words: list[str] = []
    for part in service.get("command", []):
        words += part.split()
    return words


def flag(service: dict[str, Any], name: str) -> str:
    words = command(service)
    for i, word in enumerate(words):
        if word == name:
            return words[i + 1]
        if word.startswith(name + "="):
            return word.split("=", 1)[1]
    raise AssertionError(f"no {name} in {words}")


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """container path -> source (a host path relative to deploy/, or a volume name)."""
    out = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        out[target] = source
    return out


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The state volume as deploy/compose/init.sh leaves it (run twice: it is idempotent)."""
    out = tmp_path_factory.mktemp("compose") / "state"
    env = dict(os.environ, STATE=str(out))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    script = str(DEPLOY / "compose" / "init.sh")
    first = subprocess.run(["sh", script], env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    again = subprocess.run(["sh", script], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    return out


def in_state(state: Path, container_path: str) -> Path:
    assert container_path.startswith(STATE + "/"), container_path
    return state / container_path.removeprefix(STATE + "/")


def listen_port(name: str, state: Path) -> int:
    """The port the service listens on inside its container, read from its own config."""
    service = services()[name]
    if name in WITNESSES:
        config = in_state(state, flag(service, "--config"))
        return load_witness_config(config).port
    if name == "monitor":
        listen = load_monitor_config(in_state(state, flag(service, "--config"))).listen
        assert listen is not None
        return listen[1]
    if name == "log":
        return int(flag(service, "--listen").rsplit(":", 1)[1])
    if name == "prometheus":
        return int(flag(service, "--web.listen-address").rsplit(":", 1)[1])
    assert name == "grafana"
    return 3000


def test_the_network_has_every_role() -> None:
    assert set(services()) == {"init", "log", *WITNESSES, "monitor", "prometheus", "grafana"}


def test_mounted_files_and_volumes_exist() -> None:
    doc = compose()
    for name, service in doc["services"].items():
        for target, source in mounts(service).items():
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source} (mounted at {target})"
            else:
                assert source in doc["volumes"], f"{name}: volume {source} is not declared"
        for dependency in service.get("depends_on", []):
            assert dependency in doc["services"], f"{name} depends on {dependency}"


def test_published_ports_are_loopback_unique_and_where_the_service_listens(state: Path) -> None:
    seen: dict[str, str] = {}
    for name, service in services().items():
        for port in service.get("ports", []):
            host, published, inside = port.split(":")
            assert host == "127.0.0.1", f"{name}: {port} is published beyond loopback"
            assert published not in seen, f"{name} and {seen.get(published)} publish {published}"
            seen[published] = name
            assert int(inside) == listen_port(name, state), f"{name}: {port}"


def test_daemons_share_the_state_volume_and_wait_for_init() -> None:
    for name in ["log", *WITNESSES, "monitor"]:
        service = services()[name]
        assert mounts(service)[STATE] == "state", name
        assert service["depends_on"]["init"]["condition"] == "service_completed_successfully"
        assert service["image"] == services()["init"]["image"]


def test_prometheus_scrapes_each_daemon_where_it_listens(state: Path) -> None:
    prometheus = services()["prometheus"]
    config_path = flag(prometheus, "--config.file")
    assert (DEPLOY / mounts(prometheus)[config_path]).resolve() == SCRAPE_CONFIG
    config = yaml.safe_load(SCRAPE_CONFIG.read_text())
    scraped = set()
    for job in config["scrape_configs"]:
        for static in job["static_configs"]:
            for target in static["targets"]:
                host, port = target.rsplit(":", 1)
                assert int(port) == listen_port(host, state), f"{job['job_name']}: {target}"
                scraped.add(host)
    assert scraped == {*WITNESSES, "monitor"}
    # rule_files are relative to the config file; the rules directory is mounted beside it.
    config_dir = Path(config_path).parent
    for rules in config["rule_files"]:
        target = config_dir / rules
        source = mounts(prometheus)[str(target.parent)]
        assert (DEPLOY / source / target.name).is_file(), rules


def test_grafana_is_provisioned_with_the_dashboards_and_prometheus() -> None:
    grafana = services()["grafana"]
    provisioning = DEPLOY / mounts(grafana)["/etc/grafana/provisioning"]
    providers = yaml.safe_load((provisioning / "dashboards" / "witnessnet.yml").read_text())
    path = providers["providers"][0]["options"]["path"]
    assert (DEPLOY / mounts(grafana)[path]).resolve() == DASHBOARDS
    assert dashboard_files()
    sources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    url = urlsplit(sources["datasources"][0]["url"])
    assert url.hostname == "prometheus"
    assert url.port == listen_port("prometheus", Path("/nonexistent"))


def test_init_writes_configs_the_daemons_accept(state: Path) -> None:
    network = parse_network((state / "network.txt").read_text())
    policy = parse_policy((state / "policy.txt").read_text())
    assert (len(policy.logs), len(policy.witnesses), policy.quorum) == (1, 3, "witnesses")
    names = []
    for name in WITNESSES:
        config = load_witness_config(in_state(state, flag(services()[name], "--config")))
        names.append(config.name)
        assert config.database.is_file()  # created by `witnessnet witness init`
        assert oct(config.key_file.stat().st_mode & 0o777) == "0o600"
        assert [log.url for log in config.logs] == ["http://log:8080/"]
        assert config.gossip is not None
        assert config.gossip.network_file == state / "network.txt"
    assert sorted(m.name for m in network.members) == sorted(names)
    for member in network.members:
        url = urlsplit(member.url)
        assert url.hostname in WITNESSES and url.port == listen_port(url.hostname, state)
    monitor = load_monitor_config(in_state(state, flag(services()["monitor"], "--config")))
    origin = monitor.logs[0].origin
    for source in monitor.logs[0].checkpoints:
        url = urlsplit(source)
        assert url.hostname in WITNESSES and url.port == listen_port(url.hostname, state)
        assert url.path == f"/{hashlib.sha256(origin.encode()).hexdigest()}/checkpoint"
    assert urlsplit(monitor.logs[0].url).port == listen_port("log", state)


def test_the_log_command_names_files_init_wrote(state: Path) -> None:
    log = services()["log"]
    assert in_state(state, flag(log, "--key")).is_file()
    monitor = load_monitor_config(in_state(state, flag(services()["monitor"], "--config")))
    assert flag(log, "--origin") == monitor.logs[0].origin
    script = " ".join(command(log))
    vkeys = re.findall(r"\$\$\(cat (\S+)\)", script)
    assert len(vkeys) == len(WITNESSES)
    for path in vkeys:
        assert in_state(state, path).is_file()
    witnesses = [urlsplit(w) for w in re.findall(r"--witness (\S+)", script)]
    assert sorted(w.hostname for w in witnesses) == WITNESSES
