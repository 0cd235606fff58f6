"""The monitor follows a CCF ledger (kind = "ccf"): tree audit under CCF's hash rule.

A synthetic CCF ledger (tests/tlog/ccf/synth.py) is published as committed chunks plus
ledger-chunks.txt by a static file server; `witnessnet monitor scan` (a subprocess) reads
it through tlog.ccf.source.CcfLedgerSource with the service's ccf-cose-root vkey. Entries
are leaf digests, so the monitor audits the tree only: leaves hash to the COSE-signed root
(batches of 256, each checked with a CCF consistency proof), heads are consistent, and a
ledger that does not verify or a rewritten history is an integrity finding.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest
import trio

from monitor.config import parse_config
from monitor.errors import ConfigError
from tests.monitor.helpers import findings, monitor_command, scan, static_server
from tests.tlog.ccf.synth import LedgerWriter, Service
from tlog.ccf.chunk import committed_range
from tlog.ccf.heads import service_verifier
from tlog.ccf.source import INDEX
from tlog.checkpoint import open_checkpoint
from tlog.keys import parse_vkey
from tlog.merkle import CCF, verify_consistency

ORIGIN = "monitored.ccf.example"
SERVICE = Service(ORIGIN)
VKEY = service_verifier(ORIGIN, SERVICE.service_cert).vkey()


def publish(directory: Path, writer: LedgerWriter, *cuts: int) -> dict[str, bytes]:
    """Write the ledger's chunks (cut after each seqno in cuts) and the index; return them."""
    directory.mkdir(exist_ok=True)
    for old in directory.iterdir():
        old.unlink()
    chunks = writer.chunks(*cuts)
    for name, data in chunks:
        (directory / name).write_bytes(data)
    (directory / INDEX).write_text("".join(f"{n}\n" for n, _ in chunks))
    return dict(chunks)


def config(directory: Path, url: str, claims: str = "[]") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "monitor.toml"
    path.write_text(
        f"""\
state = "monitor.db"
batch_size = 256

[[logs]]
name = "ccf"
kind = "ccf"
origin = "{ORIGIN}"
vkey = "{VKEY}"
url = "{url}"
claims = {claims}

[[sinks]]
type = "jsonl"
path = "findings.jsonl"
"""
    )
    return path


def grow(writer: LedgerWriter, count: int, tag: bytes = b"k") -> int:
    for i in range(count):
        writer.write(tag + b"%d" % (writer.seqno + i), b"value")
    writer.sign()
    return writer.seqno


def lines(result: object) -> list[dict[str, object]]:
    return [json.loads(line) for line in result.stdout.splitlines()]  # type: ignore[attr-defined]


async def test_monitor_audits_a_growing_ccf_ledger(tmp_path: Path) -> None:
    writer = LedgerWriter(SERVICE)
    first = grow(writer, 300)  # signature at seqno 302: a tree of 302 leaves
    ledger = tmp_path / "ledger"
    publish(ledger, writer)
    async with static_server(ledger) as url:
        path = config(tmp_path / "mon", url)
        one = await scan(path)
        assert one.returncode == 0, one.stderr.decode()[-2000:]
        assert lines(one) == [
            {"log": "ccf", "start": 0, "end": first, "size": first, "findings": 0, "error": None}
        ]
        second = grow(writer, 300)
        publish(ledger, writer, first)
        two = await scan(path)
        assert two.returncode == 0, two.stderr.decode()[-2000:]
        assert (lines(two)[0]["start"], lines(two)[0]["end"]) == (first, second)
        assert (await scan(path)).returncode == 0  # nothing new
    assert findings(tmp_path / "mon") == []


async def test_a_tampered_chunk_is_an_integrity_finding_naming_the_transaction(
    tmp_path: Path,
) -> None:
    writer = LedgerWriter(SERVICE)
    first = grow(writer, 20)
    writer.write(b"target", b"tamper-me")
    target = writer.seqno
    grow(writer, 20)
    ledger = tmp_path / "ledger"
    chunks = publish(ledger, writer, first)
    name = next(n for n, data in chunks.items() if b"tamper-me" in data)
    data = bytearray(chunks[name])
    data[data.index(b"tamper-me")] ^= 1
    (ledger / name).write_bytes(bytes(data))
    async with static_server(ledger) as url:
        result = await scan(config(tmp_path / "mon", url))
    assert result.returncode == 1, result.stderr.decode()[-2000:]
    (alert,) = findings(tmp_path / "mon")
    finding = alert["finding"]
    assert alert["class"] == "page"
    assert finding["problem"] == "ledger-invalid"
    assert finding["evidence"]["file"].endswith(name)
    assert finding["evidence"]["seqno"] == target
    assert f"seqno {target}" in finding["summary"]
    low, high = committed_range(name)  # the named transaction is in the changed chunk
    assert low <= target <= high


async def test_a_rewritten_history_is_an_inconsistency_finding(tmp_path: Path) -> None:
    common = LedgerWriter(SERVICE)
    grow(common, 4)
    honest, forked = common.copy(), common.copy()
    seen = grow(honest, 300, b"honest")
    grow(forked, 300, b"fork")
    newer = grow(forked, 40, b"fork")
    ledger = tmp_path / "ledger"
    publish(ledger, honest)
    async with static_server(ledger) as url:
        path = config(tmp_path / "mon", url)
        assert (await scan(path)).returncode == 0
        publish(ledger, forked, seen)  # the same service key re-signed another history
        result = await scan(path)
    assert result.returncode == 1, result.stderr.decode()[-2000:]
    (alert,) = findings(tmp_path / "mon")
    finding = alert["finding"]
    assert finding["problem"] == "inconsistent-checkpoints"
    evidence = finding["evidence"]
    verifier = parse_vkey(VKEY)
    old = open_checkpoint(evidence["previous_checkpoint"], [verifier]).checkpoint
    new = open_checkpoint(evidence["checkpoint"], [verifier]).checkpoint
    assert (old.size, old.root, new.size) == (seen, honest.tree.root(seen), newer)
    # Both heads carry the service's signature; under CCF's rule no proof joins them.
    with pytest.raises(ValueError):
        verify_consistency(old.size, new.size, old.root, new.root,
                           forked.tree.consistency_proof(seen, newer), CCF)  # fmt: skip


def test_config_needs_the_ccf_vkey_and_no_claims(tmp_path: Path) -> None:
    path = config(tmp_path, "http://127.0.0.1:1")
    assert parse_config(path.read_text(), path).logs[0].kind == "ccf"
    text = path.read_text()
    with pytest.raises(ConfigError, match=r"logs\[0\]\.claims.*leaf digests"):
        parse_config(text.replace("claims = []", 'claims = ["scitt"]'), path)
    other = service_verifier("other.example", SERVICE.service_cert).vkey()
    with pytest.raises(ConfigError, match=r"logs\[0\]\.origin"):
        parse_config(text.replace(VKEY, other), path)
    with pytest.raises(ConfigError, match="ccf-cose-root"):
        parse_config(text.replace('kind = "ccf"\n', 'kind = "ccf"\n').replace(VKEY, _ed()), path)
    with pytest.raises(ConfigError, match="for kind ccf or scitt, not tiles"):
        parse_config(text.replace('kind = "ccf"', 'kind = "tiles"'), path)


def _ed() -> str:
    from tlog.keys import generate_signer

    return generate_signer(ORIGIN).vkey()


async def test_daemon_follows_the_ledger_chunk_by_chunk(tmp_path: Path) -> None:
    """`monitor run` keeps one source across passes: new chunks are verified as they
    appear, and a changed transaction in a later chunk is still found."""
    writer = LedgerWriter(SERVICE)
    first = grow(writer, 30)
    ledger = tmp_path / "ledger"
    publish(ledger, writer)
    async with static_server(ledger) as url:
        path = config(tmp_path / "mon", url)
        path.write_text(path.read_text().replace("batch_size", "poll_interval = 0.1\nbatch_size"))
        daemon = await trio.lowlevel.open_process(
            monitor_command(path, "run"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            await cursor_at(tmp_path / "mon", first)
            second = grow(writer, 30)
            publish(ledger, writer, first)
            await cursor_at(tmp_path / "mon", second)
            writer.write(b"target", b"tamper-me")
            target = writer.seqno
            grow(writer, 5)
            chunks = publish(ledger, writer, first, second)
            name = next(n for n, data in chunks.items() if b"tamper-me" in data)
            data = bytearray(chunks[name])
            data[data.index(b"tamper-me")] ^= 1
            (ledger / name).write_bytes(bytes(data))
            with trio.fail_after(30):
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
    assert alert["finding"]["problem"] == "ledger-invalid"
    assert alert["finding"]["evidence"]["seqno"] == target
    assert cursor(tmp_path / "mon") == second  # the cursor stays at the last good head


def cursor(directory: Path) -> int | None:
    db = directory / "monitor.db"
    if not db.exists():
        return None
    with closing(sqlite3.connect(db)) as conn:
        try:
            row = conn.execute("SELECT next FROM cursors").fetchone()
        except sqlite3.OperationalError:  # the daemon has not created its tables yet
            return None
    return None if row is None else int(row[0])


async def cursor_at(directory: Path, size: int) -> None:
    with trio.fail_after(30):
        while cursor(directory) != size:
            await trio.sleep(0.05)
