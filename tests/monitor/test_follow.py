"""Following logs that change under the monitor: a split view, a witness policy, the daemon."""

from __future__ import annotations

import base64
import json
import shutil
import signal
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import httpx
import pytest
import trio

from tests.monitor.helpers import (
    ALICE,
    LOG_KEY,
    MALLORY,
    ORIGIN,
    binding,
    build_log,
    findings,
    monitor_command,
    monitor_config,
    release,
    scan,
    signer,
    static_server,
)
from tlog.checkpoint import open_checkpoint
from tlog.cosignature import CosignatureV1Signer
from tlog.errors import ProofError
from tlog.merkle import verify_consistency
from tlog.note import parse_note, sign_note
from witnessnet.demo.procs import log_server


async def wait_for_size(http: httpx.AsyncClient, url: str, size: int) -> None:
    with trio.fail_after(20):
        while True:
            note = (await http.get(f"{url}/checkpoint")).content
            if open_checkpoint(note, [LOG_KEY.verifier()]).checkpoint.size >= size:
                return
            await trio.sleep(0.05)


async def test_split_view(tmp_path: Path) -> None:
    key = build_log(tmp_path / "log", [b"entry %d" % i for i in range(600)])
    args = ["--fork-at", "300", "--fork-listen", "127.0.0.1:0", "--batch-interval", "0.05"]
    async with (
        log_server(tmp_path / "log", key, ORIGIN, args) as log,
        httpx.AsyncClient(timeout=10) as http,
    ):
        await wait_for_size(http, log.fork_url, 600)
        main = monitor_config(tmp_path / "mon", log.url, claims=())
        assert (await scan(main)).returncode == 0
        # The same monitor state, now reading the fork: same key, same origin, same size.
        fork = monitor_config(tmp_path / "mon", log.fork_url, claims=())
        result = await scan(fork)
        assert result.returncode == 1, result.stderr.decode()[-2000:]
        for i in range(2):
            assert (await http.post(f"{log.fork_url}/add", content=b"fork %d" % i)).is_success
        await wait_for_size(http, log.fork_url, 602)
        assert (await scan(fork)).returncode == 1
    same_size, grown = findings(tmp_path / "mon")
    assert same_size["finding"]["problem"] == "equivocation"
    notes = same_size["finding"]["evidence"]["checkpoints"]
    a, b = (open_checkpoint(n, [LOG_KEY.verifier()]).checkpoint for n in notes)
    assert a.size == b.size == 600 and a.root != b.root

    evidence = grown["finding"]["evidence"]
    assert grown["finding"]["problem"] == "inconsistent-checkpoints"
    old = open_checkpoint(evidence["previous_checkpoint"], [LOG_KEY.verifier()]).checkpoint
    new = open_checkpoint(evidence["checkpoint"], [LOG_KEY.verifier()]).checkpoint
    proof = [base64.b64decode(h) for h in evidence["consistency_proof"]]
    with pytest.raises(ProofError):
        verify_consistency(old.size, new.size, old.root, new.root, proof)


def cosigned(note: bytes, witness: CosignatureV1Signer) -> bytes:
    logged = parse_note(note)
    return sign_note(logged.text, [witness], keep=logged.signatures).to_bytes()


async def test_witness_policy(tmp_path: Path) -> None:
    served = tmp_path / "served"
    build_log(served / "log", [release("witnessnet", f"1.{i}.0") for i in range(300)])
    witnesses = [CosignatureV1Signer(signer(f"w{i}.example"), clock=lambda: 1) for i in range(3)]
    note = (served / "log" / "checkpoint").read_bytes()
    for i, w in enumerate(witnesses[:2]):
        (served / f"w{i}").mkdir()
        (served / f"w{i}" / "checkpoint").write_bytes(cosigned(note, w))
    policy = tmp_path / "mon" / "witnesses.policy"
    policy.parent.mkdir()
    policy.write_text(
        "".join(f"witness w{i} {w.vkey()}\n" for i, w in enumerate(witnesses))
        + "group two 2 w0 w1 w2\nquorum two\n"
    )
    async with static_server(served) as url:

        def config(*witnessed: str) -> Path:
            sources = ", ".join(f'"{url}/{w}/checkpoint"' for w in witnessed)
            extra = f'policy = "witnesses.policy"\ncheckpoints = [{sources}]\n'
            return monitor_config(tmp_path / "mon", f"{url}/log", extra_log=extra)

        refused = await scan(config("w0"))
        assert refused.returncode == 2
        assert "quorum two not met" in json.loads(refused.stdout)["error"]
        accepted = await scan(config("w0", "w1"))
        assert accepted.returncode == 0, accepted.stderr.decode()[-2000:]
    with closing(sqlite3.connect(tmp_path / "mon" / "state.db")) as db:
        (checkpoint,) = db.execute("SELECT checkpoint FROM cursors").fetchone()
    assert len(parse_note(checkpoint).signatures) == 3  # the log and two witnesses


async def test_daemon_follows_a_growing_log(tmp_path: Path) -> None:
    key = build_log(tmp_path / "log", [binding("alice@example.com", ALICE.vkey())])
    async with (
        log_server(tmp_path / "log", key, ORIGIN, ["--batch-interval", "0.05"]) as log,
        httpx.AsyncClient(timeout=10) as http,
    ):
        config = monitor_config(tmp_path / "mon", log.url, settings="poll_interval = 0.1")
        daemon = await trio.lowlevel.open_process(
            monitor_command(config, "run"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            rebound = binding("alice@example.com", MALLORY.vkey())
            index = int((await http.post(f"{log.url}/add", content=rebound)).text)
            with trio.fail_after(20):
                while not findings(tmp_path / "mon"):
                    await trio.sleep(0.05)
            daemon.send_signal(signal.SIGTERM)
            with trio.fail_after(10):
                assert await daemon.wait() == 0
        finally:
            if daemon.returncode is None:
                daemon.kill()
                await daemon.wait()
    (alert,) = findings(tmp_path / "mon")
    assert (alert["kind"], alert["details"]["index"]) == ("unexpected-key", index)


async def test_unreadable_bundle_is_an_error_not_a_finding(tmp_path: Path) -> None:
    build_log(tmp_path / "log", [b"entry %d" % i for i in range(300)])
    copy = tmp_path / "copy"
    shutil.copytree(tmp_path / "log", copy)
    (copy / "tile" / "entries" / "000").write_bytes(b"\x00\x05abc")
    async with static_server(copy) as url:
        result = await scan(monitor_config(tmp_path / "mon", url, claims=()))
    assert result.returncode == 2
    assert "entry bundle" in json.loads(result.stdout)["error"]
    assert findings(tmp_path / "mon") == []
