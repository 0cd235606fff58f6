"""The witness and monitor status pages in headless Chromium, after a detected fork.

Real processes on 127.0.0.1: a reference log with its fork drill, three gossiping
witnesses (two follow the log, one its fork) and a monitor following the log, in
which a release signed by an unknown key is logged. Once the witnesses hold
evidence and the monitor has its finding, Debian's `chromium`, driven by
Playwright, loads each status page and checks what a person would see: the
evidence listed with a download link that yields a verifying file, the log frozen,
the peers fresh, the monitor's finding with its JSON download. Screenshots go to
a pytest temporary directory (the path is printed; run with -s to see it).

Chromium comes from the distribution, installed when missing by
tests/setup/install-chromium.sh (a session fixture); Playwright only drives it
through its executable path and never downloads a browser.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gossip.evidence import verify_evidence
from tests.gossip.procs import (
    ForkedLog,
    WitnessSpec,
    checkpoint_size,
    free_port,
    network_file,
    start_forked_log,
    start_witnesses,
    stop,
    wait_for,
    write_witness,
)
from tests.monitor.helpers import EVIL, PUBLISHER, release
from tlog.keys import Ed25519Signer, parse_vkey

CHROMIUM = Path("/usr/bin/chromium")
INSTALL = Path(__file__).parents[1] / "setup" / "install-chromium.sh"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ORIGIN = "status.fork.test/log"
FORK_AT = 5
SIZE = 10
EVIL_INDEX = 7
KEYS = [
    Ed25519Signer(f"w{i}.status.test", hashlib.sha256(f"status witness {i}".encode()).digest())
    for i in range(3)
]
ON_FORK = 2
GOSSIP = {"interval_seconds": 0.3, "timeout_seconds": 1, "proof_attempts": 2}
DEADLINE = 90.0


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium, installed by the repo's script when missing."""
    if not CHROMIUM.exists():
        result = subprocess.run(
            ["bash", str(INSTALL)], capture_output=True, text=True, timeout=1800
        )
        if result.returncode != 0 or not CHROMIUM.exists():
            pytest.fail(f"{INSTALL} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return CHROMIUM


@dataclass
class Net:
    log: ForkedLog
    witnesses: list[str]
    monitor: str
    http: httpx.Client

    def proofs(self, i: int) -> list[dict[str, Any]]:
        evidence = self.http.get(f"{self.witnesses[i]}/evidence").json()
        return [e for e in evidence if e["origin"] == ORIGIN and e["kind"] != "suspicion"]


def write_monitor(directory: Path, log: ForkedLog, port: int) -> Path:
    directory.mkdir(parents=True)
    config = directory / "monitor.toml"
    config.write_text(
        f"""\
state = "state.db"
poll_interval = 0.2
timeout = 5
listen = "127.0.0.1:{port}"

[[logs]]
name = "status-log"
origin = "{ORIGIN}"
vkey = "{log.vkey}"
url = "{log.url}"
claims = ["witnessnet-release"]

[[components]]
name = "witnessnet"
signers = ["{PUBLISHER.vkey()}"]

[[sinks]]
type = "jsonl"
path = "findings.jsonl"
"""
    )
    return config


def start_monitor(config: Path) -> tuple[subprocess.Popen[bytes], str]:
    argv = [sys.executable, "-m", "witnessnet", "monitor", "run", "--config", str(config)]
    with open(config.parent / "stderr.log", "ab") as stderr:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait()
        log = (config.parent / "stderr.log").read_text()[-3000:]
        raise RuntimeError(f"monitor exited with {proc.returncode}: {log}")
    return proc, str(json.loads(line)["url"])


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    tmp = tmp_path_factory.mktemp("status-net")
    procs: list[subprocess.Popen[bytes]] = []
    log: ForkedLog | None = None
    with httpx.Client(timeout=10) as http:
        try:
            log = start_forked_log(tmp / "log", ORIGIN, FORK_AT)
            for i in range(SIZE):
                key = EVIL if i == EVIL_INDEX else PUBLISHER
                resp = http.post(f"{log.url}/add", content=release("witnessnet", f"1.{i}.0", key))
                assert resp.status_code == 200, resp.text
            wait_for("the fork", lambda: checkpoint_size(http, log.fork_url) == SIZE)
            specs = [WitnessSpec(k, free_port()) for k in KEYS]
            network = network_file(tmp / "network.txt", specs)
            configs = []
            for i, spec in enumerate(specs):
                url = log.fork_url if i == ON_FORK else log.url
                spec.logs.append({"origin": ORIGIN, "vkeys": [log.vkey], "tiles_url": url})
                alerts = {"warn_hold_seconds": 0, "log_file": "alerts.jsonl"}
                configs.append(
                    write_witness(tmp / f"w{i}", spec, network, gossip=GOSSIP, alerts=alerts)
                )
            # The two honest witnesses cosign the log (and share their cosignatures)
            # before the third, on the fork, comes up.
            started = start_witnesses(configs[:ON_FORK])
            procs += [p for p, _ in started]
            both = ", ".join(k.name for k in KEYS[:ON_FORK])
            for _, ready in started:
                wait_for(
                    f"{ready['url']} to show both cosignatures",
                    lambda url=ready["url"]: f"{ON_FORK}: {both}" in http.get(f"{url}/").text,
                    DEADLINE,
                )
            started += start_witnesses(configs[ON_FORK:])
            procs += [p for p, _ in started[ON_FORK:]]
            monitor, monitor_url = start_monitor(write_monitor(tmp / "mon", log, free_port()))
            procs.append(monitor)
            yield Net(log, [ready["url"] for _, ready in started], monitor_url, http)
        finally:
            assert stop(procs) == [0] * len(procs)
            if log is not None:
                stop([log.proc])


def wait_for_detection(net: Net) -> None:
    """Every witness holds proof of the fork and has frozen the log, every peer is fresh,
    and the monitor has its finding."""
    for i, url in enumerate(net.witnesses):
        wait_for(f"witness {i} to hold proof of the fork", lambda i=i: net.proofs(i), DEADLINE)
        wait_for(
            f"witness {i} to see both peers fresh",
            lambda url=url: "2 of 2 peers fresh" in net.http.get(f"{url}/").text,
            DEADLINE,
        )
    wait_for(
        "the monitor's finding",
        lambda: net.http.get(f"{net.monitor}/findings.json").json()["total"] >= 1,
        DEADLINE,
    )


def test_status_pages_in_chromium(
    net: Net, chromium: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from playwright.sync_api import expect, sync_playwright

    wait_for_detection(net)
    shots = tmp_path_factory.mktemp("screenshots")
    profile = tmp_path_factory.mktemp("chromium-profile")
    log_verifier = parse_vkey(net.log.vkey)
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(chromium),
            headless=True,
            args=CHROMIUM_ARGS,
            accept_downloads=True,
            viewport={"width": 1280, "height": 900},
            env={**os.environ, "HOME": str(profile)},
        )
        try:
            page = context.new_page()
            for i, url in enumerate(net.witnesses):
                page.goto(f"{url}/")
                expect(page.locator("h1")).to_have_text(f"Witness {KEYS[i].name}")
                # The log: frozen; the honest witnesses cosigned it before the fork showed.
                row = page.locator("#logs ~ table tr", has_text=ORIGIN)
                expect(row).to_contain_text("frozen")
                expect(row).to_contain_text(str(SIZE))
                # The evidence: listed, flagged as what froze the log, downloadable.
                alerts = page.locator("#alerts ~ table").first
                expect(alerts).to_contain_text("froze the log")
                expect(alerts).to_contain_text(ORIGIN)
                with page.expect_download() as download:
                    alerts.locator("a[download]").first.click()
                verified = verify_evidence(Path(download.value.path()).read_bytes(), [log_verifier])
                assert verified.origin == ORIGIN
                # The peers: both fresh.
                expect(page.locator("#peers + p")).to_contain_text("2 of 2 peers fresh")
                peers = page.locator("#peers ~ table").first
                expect(peers.locator(".badge.ok")).to_have_count(2)
                page.screenshot(path=str(shots / f"witness-{i}.png"), full_page=True)

            page.goto(f"{net.monitor}/")
            finding = page.locator("#findings ~ table tr", has_text="unauthorised-signer")
            expect(finding).to_contain_text(str(EVIL_INDEX))
            finding.locator("summary").click()
            expect(finding.locator("pre")).to_contain_text("inclusion_proof")
            with page.expect_download() as download:
                finding.locator("a[download]").click()
            doc = json.loads(Path(download.value.path()).read_bytes())
            assert (doc["rule"], doc["index"]) == ("unauthorised-signer", EVIL_INDEX)
            assert doc["inclusion_proof"] and doc["log"]["origin"] == ORIGIN
            expect(page.locator("#logs ~ table tr", has_text="status-log")).to_contain_text(
                "following"
            )
            page.screenshot(path=str(shots / "monitor.png"), full_page=True)
        finally:
            context.close()
    print(f"\nstatus page screenshots: {shots}")
    assert sorted(p.name for p in shots.iterdir()) == [
        "monitor.png",
        "witness-0.png",
        "witness-1.png",
        "witness-2.png",
    ]
