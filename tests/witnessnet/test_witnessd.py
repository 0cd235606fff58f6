"""`witnessnet witness serve` with [gossip] and [alerts]: what it refuses to start with."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from gossip.daemon import state_path
from gossip.state import GossipState, Held
from tests.gossip.procs import (
    WitnessSpec,
    free_port,
    network_file,
    start_witnesses,
    stop,
    write_witness,
)
from tests.witness.helpers import ToyLog
from tlog.keys import Ed25519Signer
from witness.config import load_config
from witness.errors import ConfigError
from witnessnet.witnessd import load_alerts, outbox_path

ME = Ed25519Signer("me.serve.test", bytes([1]) * 32)
PEER = Ed25519Signer("peer.serve.test", bytes([2]) * 32)


def serve(config: Path) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable,
        "-m",
        "witnessnet",
        "witness",
        "serve",
        "--init",
        "--config",
        str(config),
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_alerts_table_is_validated_naming_file_and_key(tmp_path: Path) -> None:
    network = network_file(tmp_path / "network.txt", [WitnessSpec(ME, 1), WitnessSpec(PEER, 2)])
    good = write_witness(tmp_path / "w", WitnessSpec(ME, 0), network, gossip={}, alerts={})
    config = load_config(good)
    assert load_alerts(config).webhooks == ()
    assert outbox_path(config.database) == tmp_path / "w" / "witness.alerts.db"
    bad = write_witness(
        tmp_path / "v", WitnessSpec(ME, 0), network, gossip={}, alerts={"webhooks": ["ftp://x"]}
    )
    with pytest.raises(ConfigError, match=r"witness\.toml: alerts\.webhooks\[0\]: 'ftp://x'"):
        load_alerts(load_config(bad))


@pytest.mark.parametrize(
    ("network", "error"),
    [
        (None, "gossip.network_file: cannot read"),
        ("witness peer.serve.test\n", "network.txt:1: want 'witness <name> <vkey> <url>'"),
        (f"witness peer {PEER.vkey()} http://127.0.0.1:1\n", "does not list this witness's key"),
    ],
)
def test_unusable_network_files_stop_the_witness(
    tmp_path: Path, network: str | None, error: str
) -> None:
    path = tmp_path / "network.txt"
    if network is not None:
        path.write_text(network)
    config = write_witness(tmp_path / "w", WitnessSpec(ME, 0), path, gossip={}, alerts={})
    result = serve(config)
    assert result.returncode == 2
    assert error in result.stderr


async def test_logs_frozen_by_gossip_stay_frozen_with_gossip_off(tmp_path: Path) -> None:
    log = ToyLog("frozen.serve.test/log", 8)
    network = network_file(tmp_path / "network.txt", [WitnessSpec(ME, 1), WitnessSpec(PEER, 2)])
    spec = WitnessSpec(ME, free_port(), [{"origin": log.origin, "vkeys": [log.vkey]}])
    config = write_witness(tmp_path / "w", spec, network, gossip={"enabled": False}, alerts={})
    state = GossipState.open(state_path(config.parent / "witness.db"))
    held = Held("f" * 64, log.origin, "same-size-different-roots", None, "peer", 1.0)
    assert await state.hold(held, b"evidence", freeze=True) == (True, True)
    state.close()
    [(proc, ready)] = start_witnesses([config])
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            resp = await http.post(f"{ready['url']}/add-checkpoint", content=log.body(0, 8))
            assert resp.status_code == 403 and "frozen" in resp.text
            assert (await http.get(f"{ready['url']}/evidence")).status_code == 404
    finally:
        assert stop([proc]) == [0]
