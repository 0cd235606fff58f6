"""The systemd units: `systemd-analyze verify` accepts them (with ExecStart pointed at this
checkout's witnessnet), their offline security exposure stays low, and each sets the
hardening and restart keys the operator guide promises."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.promql import ROOT

UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
INSTALLED = "/opt/witnessnet/bin/witnessnet"
# Keys systemd < 254 does not know yet; it ignores them with this warning.
NEWER_KEYS = {"RestartSteps", "RestartMaxDelaySec"}
HARDENING = {
    "NoNewPrivileges": "yes",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "RestrictSUIDSGID": "yes",
    "UMask": "0077",
    "User": "witnessnet",
}
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """section -> key -> every value given (systemd keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        assert current is not None, f"{path.name}: {line!r} outside a section"
        current.setdefault(key, []).append(value)
    return sections


def test_one_unit_per_daemon() -> None:
    assert [u.name for u in UNITS] == [
        "witnessnet-log.service",
        "witnessnet-monitor.service",
        "witnessnet-witness.service",
    ]


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_hardening_and_restart_keys(path: Path) -> None:
    service = unit(path)["Service"]
    for key, value in HARDENING.items():
        assert service.get(key) == [value], f"{path.name}: {key}"
    state = service["StateDirectory"][0]
    assert state.startswith("witnessnet/")
    command = service["ExecStart"][0].split()
    assert command[0] == INSTALLED
    # Every path the daemon writes is inside its StateDirectory (ProtectSystem=strict).
    for arg in command:
        if arg.startswith("/var/lib/"):
            assert arg.startswith(f"/var/lib/{state}/"), f"{path.name}: {arg}"
    assert service["Restart"] == ["on-failure"]
    assert int(service["LimitNOFILE"][0]) >= 65536
    assert {"RestartSec", "RestartSteps", "RestartMaxDelaySec"} <= set(service)
    assert unit(path)["Install"]["WantedBy"] == ["multi-user.target"]


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_unit_command_runs_here(path: Path) -> None:
    """The ExecStart subcommand and its flags exist in this checkout's CLI."""
    argv = unit(path)["Service"]["ExecStart"][0].split()
    flags = [a for a in argv if a.startswith("--")]
    subcommand = argv[1:3]  # e.g. witness serve
    helped = subprocess.run(
        [sys.executable, "-m", "witnessnet", *subcommand, "--help"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert helped.returncode == 0, helped.stderr
    for flag in flags:
        assert re.search(rf"{re.escape(flag)}\b", helped.stdout), f"{path.name}: {flag}"


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_systemd_analyze(path: Path, tmp_path: Path) -> None:
    assert SYSTEMD_ANALYZE is not None
    here = Path(sys.executable).with_name("witnessnet")
    copy = tmp_path / path.name
    copy.write_text(path.read_text().replace(INSTALLED, str(here)))
    verify = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert verify.returncode == 0, verify.stderr
    for line in verify.stderr.splitlines():
        unknown = re.search(r"Unknown key '(\w+)'", line) or re.search(
            r"Unknown key name '(\w+)'", line
        )
        assert unknown and unknown.group(1) in NEWER_KEYS, line
    security = subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=yes", str(copy)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    level = re.search(r"Overall exposure level for \S+: ([\d.]+)", security.stdout)
    assert level, security.stdout + security.stderr
    assert float(level.group(1)) <= 2.0, security.stdout
