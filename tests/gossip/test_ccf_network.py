"""A forked CCF service is caught by gossiping witness processes, as a forked tiled log is.

Two synthetic CCF ledgers of one service (tests/tlog/ccf/synth.py) share a prefix and then
diverge after a signed root; each is published as chunk files by its own static server.
Three `witnessnet witness serve` processes follow the service with `kind = "ccf"` and the
service's 0xff ccf-cose-root vkey: two read the honest ledger, one the fork. They gossip
(docs/gossip.md); every witness must end up holding evidence of the split view that
`witnessnet evidence verify` accepts with the service's vkey alone, freeze the service
and page its operator exactly once, as for a tiles log (tests/gossip/test_network.py).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.gossip.procs import (
    Receiver,
    WitnessSpec,
    free_port,
    network_file,
    start_witnesses,
    stop,
    wait_for,
    write_witness,
)
from tests.gossip.test_network import verify_cli
from tests.tlog.ccf.synth import LedgerWriter, Service
from tests.witness.test_ccf_witness import publish
from tlog.ccf.heads import service_verifier
from tlog.keys import Ed25519Signer

ORIGIN = "split.ccf.example"
SERVICE = Service(ORIGIN)
VKEY = service_verifier(ORIGIN, SERVICE.service_cert).vkey()
KEYS = [
    Ed25519Signer(f"w{i}.ccf.test", hashlib.sha256(f"ccf witness {i}".encode()).digest())
    for i in range(3)
]
GOSSIP = {"interval_seconds": 0.3, "timeout_seconds": 1, "proof_attempts": 2}


def grow(writer: LedgerWriter, tag: bytes, count: int) -> None:
    for i in range(count):
        writer.write(tag + str(i).encode(), b"value")
    writer.sign()


@contextmanager
def static_server(directory: Path) -> Iterator[str]:
    """tests.monitor.static_server serving `directory`, from a plain (non-trio) test."""
    command = [sys.executable, "-m", "tests.monitor.static_server", str(directory)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert process.stdout is not None
        yield json.loads(process.stdout.readline())["url"]
    finally:
        stop([process])


def test_gossiping_witnesses_prove_a_forked_ccf_service(tmp_path: Path) -> None:
    common = LedgerWriter(SERVICE)
    grow(common, b"common", 4)
    honest, forked = common.copy(), common.copy()
    grow(honest, b"honest", 6)
    grow(forked, b"forked", 6)  # the same size as the honest head, another root
    publish(tmp_path / "honest", honest)
    publish(tmp_path / "forked", forked)
    with (
        static_server(tmp_path / "honest") as honest_url,
        static_server(tmp_path / "forked") as forked_url,
        Receiver() as receiver,
        httpx.Client(timeout=10) as http,
    ):
        logs = [
            {"origin": ORIGIN, "vkeys": [VKEY], "kind": "ccf", "url": url}
            for url in (honest_url, honest_url, forked_url)
        ]
        specs = [WitnessSpec(key, free_port(), [log]) for key, log in zip(KEYS, logs, strict=True)]
        network = network_file(tmp_path / "network.txt", specs)
        alerts = {"webhooks": [f"{receiver.url}/hook"]}
        configs = [
            write_witness(tmp_path / f"w{i}", spec, network, gossip=GOSSIP, alerts=alerts)
            for i, spec in enumerate(specs)
        ]
        procs = start_witnesses(configs)
        try:
            urls = [ready["url"] for _, ready in procs]

            def proofs(i: int) -> list[dict[str, Any]]:
                found = http.get(f"{urls[i]}/evidence").json()
                return [e for e in found if e["kind"] != "suspicion"]

            for i in range(3):
                wait_for(f"witness {i} to prove the CCF fork", lambda i=i: bool(proofs(i)))
            for i in range(3):
                for n, e in enumerate(proofs(i)):
                    assert e["origin"] == ORIGIN
                    file = http.get(f"{urls[i]}/evidence/{e['fingerprint']}").content
                    result = verify_cli(file, tmp_path / f"w{i}-{n}.evidence", VKEY, KEYS[i].vkey())
                    assert result.returncode == 0, result.stderr
                    assert result.stdout.startswith("PROOF OF")
                metrics = http.get(f"{urls[i]}/metrics").text
                assert "witnessnet_gossip_frozen_logs 1.0" in metrics
            expected = {(k.name, "split-view", ORIGIN) for k in KEYS}
            wait_for(
                "a split-view page from each witness", lambda: set(receiver.pages()) == expected
            )
            assert all(len(ids) == 1 for ids in receiver.pages().values()), receiver.pages()
        finally:
            stop(p for p, _ in procs)
