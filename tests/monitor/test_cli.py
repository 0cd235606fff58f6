"""`witnessnet claim sign|submit`, `witnessnet release verify` and `monitor` exit codes, as
real processes against a reference log on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import trio

from monitor.claims import CLAIM_TYPES
from tests.monitor.helpers import (
    ALICE,
    ORIGIN,
    PROVIDER,
    PUBLISHER,
    build_log,
    monitor_command,
    monitor_config,
    release,
    scan,
    signer,
)
from witnessnet.commands.key import write_key_file
from witnessnet.demo.procs import log_server

FIRMWARE = b"firmware image bytes"


async def witnessnet(*args: str) -> subprocess.CompletedProcess[bytes]:
    return await trio.run_process(
        [sys.executable, "-m", "witnessnet", *args],
        check=False, capture_stdout=True, capture_stderr=True,
    )  # fmt: skip


async def sign_release(tmp_path: Path, key: Path, version: str, sha256: str) -> Path:
    out = tmp_path / f"release-{version}-{key.stem}.note"
    result = await witnessnet(
        "claim", "sign", "release", "--key", str(key), "--component", "witnessnet",
        "--version", version, "--commit", "c" * 40, "--sha256", sha256, "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


async def test_sign_submit_and_verify_releases(tmp_path: Path) -> None:
    keys = {}
    for name, s in (("publisher", PUBLISHER), ("provider", PROVIDER), ("other", signer("x"))):
        keys[name] = tmp_path / f"{name}.key"
        write_key_file(keys[name], s)
    artifact = tmp_path / "firmware.bin"
    artifact.write_bytes(FIRMWARE)
    digest = hashlib.sha256(FIRMWARE).hexdigest()

    firmware = await witnessnet(
        "claim", "sign", "firmware", "--key", str(keys["publisher"]), "--component", "witnessnet",
        "--version", "1.0.0", "--commit", "C" * 40, "--artifact", str(artifact),
    )  # fmt: skip
    (claim,) = CLAIM_TYPES["firmware"].parse(firmware.stdout)
    assert (claim.subject, claim.version, claim.value) == ("witnessnet", "1.0.0", digest)
    binding = await witnessnet(
        "claim", "sign", "key-binding", "--key", str(keys["provider"]), "--provider",
        "example.com", "--identity", "alice@example.com", "--bind", ALICE.vkey(),
    )  # fmt: skip
    (claim,) = CLAIM_TYPES["key-binding"].parse(binding.stdout)
    assert claim.value == ALICE.vkey()
    bad = await witnessnet(
        "claim", "sign", "release", "--key", str(keys["publisher"]), "--component", "c",
        "--version", "one", "--commit", "c" * 40, "--sha256", digest,
    )  # fmt: skip
    assert bad.returncode == 2 and b"semantic version" in bad.stderr

    log_key = tmp_path / "log.key"
    write_key_file(log_key, signer(ORIGIN))
    notes = [
        await sign_release(tmp_path, keys["publisher"], "1.0.0", digest),
        await sign_release(tmp_path, keys["other"], "3.0.0", "e" * 64),  # not authorised
        await sign_release(tmp_path, keys["publisher"], "1.1.0", "f" * 64),
    ]
    args = ["--batch-interval", "0.05"]
    async with log_server(tmp_path / "log", log_key, ORIGIN, args) as log:
        for i, note in enumerate(notes):
            added = await witnessnet("claim", "submit", "--log", log.url, str(note))
            assert (added.returncode, added.stdout) == (0, f"{i}\n".encode()), added.stderr

        async def verify(sha256: str) -> tuple[int, dict[str, object]]:
            result = await witnessnet(
                "release", "verify", "--digest", sha256, "--component", "witnessnet",
                "--log", log.url, "--log-vkey", signer(ORIGIN).vkey(),
                "--signer", PUBLISHER.vkey(),
            )  # fmt: skip
            return result.returncode, json.loads(result.stdout or b"{}")

        code, superseded = await verify(digest)
        assert code == 1 and "superseded by 1.1.0 (entry 2)" in str(superseded["reason"])
        code, latest = await verify("f" * 64)
        assert code == 0 and latest["entry"]["index"] == 2  # type: ignore[index]
        code, unauthorised = await verify("e" * 64)
        assert code == 1 and "signed by 0 of the 1 authorised" in str(unauthorised["reason"])
        code, missing = await verify("0" * 64)
        assert code == 1 and "no entry" in str(missing["reason"])
        # The spelling, `witnessnet verify --release`, runs the same check.
        same = await witnessnet(
            "verify", "--release", "--digest", "f" * 64, "--component", "witnessnet",
            "--log", log.url, "--log-vkey", signer(ORIGIN).vkey(),
            "--signer", PUBLISHER.vkey(),
        )  # fmt: skip
        assert same.returncode == 0 and json.loads(same.stdout) == latest
        incomplete = await witnessnet("verify", "--release", "--digest", "f" * 64)
        assert incomplete.returncode == 2 and b"--release needs --component" in incomplete.stderr


async def test_monitor_exit_codes(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "monitor.toml").write_text('state = "x.db"\n[[logs]]\norigin = "o"\n')
    result = await scan(bad / "monitor.toml")
    assert result.returncode == 2 and b"logs[0].vkey: missing" in result.stderr

    key = build_log(tmp_path / "log", [b"entry"])
    async with log_server(tmp_path / "log", key, ORIGIN) as log:
        config = monitor_config(tmp_path / "mon", log.url, claims=())
        daemon = await trio.lowlevel.open_process(
            monitor_command(config, "run"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            with trio.fail_after(20):
                while not (tmp_path / "mon" / "state.db").exists():
                    await trio.sleep(0.05)
            await trio.sleep(0.3)
            locked = await scan(config)
            assert locked.returncode == 2 and b"in use by another monitor" in locked.stderr
        finally:
            daemon.kill()
            await daemon.wait()
        assert (await scan(config)).returncode == 0
    unreachable = await scan(config)
    assert unreachable.returncode == 2
    assert json.loads(unreachable.stdout)["error"].startswith("NoCheckpointError")


async def test_findings_reach_the_alerts_outbox(tmp_path: Path) -> None:
    entries = [release("witnessnet", "2.0.0"), release("witnessnet", "1.0.0"), b"junk\n"]
    key = build_log(tmp_path / "log", entries)
    async with log_server(tmp_path / "log", key, ORIGIN) as log:
        config = monitor_config(tmp_path / "mon", log.url)
        text = config.read_text() + '\n[alerts]\nlog_file = "alerts.log"\nwarn_hold_seconds = 0\n'
        config.write_text(text)
        result = await scan(config)
    assert result.returncode == 1, result.stderr.decode()[-2000:]
    lines = [
        json.loads(line) for line in (tmp_path / "mon" / "alerts.log").read_text().splitlines()
    ]
    assert sorted((r["kind"], r["details"]["index"]) for r in lines) == [
        ("malformed-entry", 2), ("rollback", 1),
    ]  # fmt: skip
    assert {r["source"] for r in lines} == {"witnessnet-monitor"}
    assert (tmp_path / "mon" / "state.alerts.db").exists()
