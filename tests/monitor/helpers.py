"""Keys, claims, logs, configurations and processes for the monitor tests."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import trio

from monitor.claims.firmware import manifest_json
from monitor.claims.keybinding import binding_text
from monitor.claims.release import release_text
from tlog.keys import Ed25519Signer
from tlog.note import sign_note
from tlog.reflog.log import TiledLog
from tlog.reflog.storage import LogDirectory
from witnessnet.commands.key import write_key_file

ORIGIN = "monitor.test/log"


def signer(name: str) -> Ed25519Signer:
    """A deterministic Ed25519 key named name."""
    return Ed25519Signer(name, hashlib.sha256(b"monitor test key " + name.encode()).digest())


LOG_KEY = signer(ORIGIN)
PUBLISHER = signer("example.com/release")
FIRMWARE = signer("example.com/firmware")
PROVIDER = signer("example.com/keys")
EVIL = signer("evil.example/release")
ALICE = signer("alice")
MALLORY = signer("mallory")


def digest(tag: str) -> str:
    return hashlib.sha256(tag.encode()).hexdigest()


def release(component: str, version: str, key: Ed25519Signer = PUBLISHER) -> bytes:
    text = release_text(component, version, "a" * 40, digest(f"{component} {version}"))
    return sign_note(text, [key]).to_bytes()


def firmware(component: str, version: str, key: Ed25519Signer = FIRMWARE) -> bytes:
    raw = bytes.fromhex(digest(f"{component} {version}"))
    return sign_note(manifest_json(component, version, "b" * 40, raw), [key]).to_bytes()


def binding(identity: str, vkey: str, key: Ed25519Signer = PROVIDER) -> bytes:
    return sign_note(binding_text("example.com", identity, vkey), [key]).to_bytes()


def gosum(module: str, version: str, tag: str = "") -> bytes:
    h = base64.b64encode(hashlib.sha256(f"{module}{version}{tag}".encode()).digest()).decode()
    g = base64.b64encode(hashlib.sha256(f"{module}{version}/go.mod".encode()).digest()).decode()
    return f"{module} {version} h1:{h}\n{module} {version}/go.mod h1:{g}\n".encode()


@dataclass(frozen=True)
class PlantedLog:
    """A log's entries and the (rule, index) of every violation planted in them."""

    entries: list[bytes]
    planted: dict[tuple[str, int], str]


def planted_log(size: int = 10_000) -> PlantedLog:
    """size ordinary entries of four claim types, with five violations planted among them."""
    ordinary: list[bytes] = []
    for i in range(size):
        kind = i % 10
        if kind < 3:
            ordinary.append(release("witnessnet", f"1.{i}.0"))
        elif kind == 3:
            ordinary.append(firmware("TRUSTED_OS", f"0.{i}.0"))
        elif kind < 6:
            who = "alice@example.com" if i % 500 == 4 else f"user{i}@example.com"
            ordinary.append(
                binding(who, ALICE.vkey() if who.startswith("alice") else signer(who).vkey())
            )
        else:
            ordinary.append(gosum(f"example.com/mod{i}", "v1.0.0"))
    plants = [
        (1234, "unauthorised-signer", release("witnessnet", "99.0.0", EVIL)),
        (4567, "rollback", release("witnessnet", "1.5.0")),
        (7001, "unexpected-key", binding("alice@example.com", MALLORY.vkey())),
        (8888, "module-hash-changed", gosum("example.com/mod6", "v1.0.0", "changed")),
        (9999, "malformed-entry", b"this is not a claim\n"),
    ]
    entries = list(ordinary)
    planted = {}
    for index, rule, entry in plants:
        entries.insert(index, entry)
        planted[(rule, index)] = entry.decode("utf-8", "replace")
    return PlantedLog(entries, planted)


def build_log(directory: Path, entries: Sequence[bytes], key: Ed25519Signer = LOG_KEY) -> Path:
    """A reference log directory holding entries, and its key file; returns the key file."""
    log = TiledLog.open(LogDirectory(directory), key, key.name)
    log.commit(list(entries), {})
    key_file = directory.parent / f"{directory.name}.key"
    if not key_file.exists():
        write_key_file(key_file, key)
    return key_file


def monitor_config(
    directory: Path,
    url: str,
    *,
    claims: Sequence[str] = ("witnessnet-release", "firmware", "key-binding", "gosum"),
    batch_size: int = 4096,
    extra_log: str = "",
    settings: str = "",
) -> Path:
    """A monitor.toml for the planted log at url, with a JSON-lines sink; returns its path."""
    names = ", ".join(f'"{c}"' for c in claims)
    text = f"""\
state = "state.db"
batch_size = {batch_size}
timeout = 5
{settings}
[[logs]]
name = "test"
origin = "{ORIGIN}"
vkey = "{LOG_KEY.vkey()}"
url = "{url}"
claims = [{names}]
{extra_log}
[[components]]
name = "witnessnet"
signers = ["{PUBLISHER.vkey()}"]

[[components]]
name = "TRUSTED_OS"
signers = ["{FIRMWARE.vkey()}"]

[[providers]]
name = "example.com"
signers = ["{PROVIDER.vkey()}"]

[[identities]]
name = "alice@example.com"
keys = ["{ALICE.vkey()}"]

[[sinks]]
type = "jsonl"
path = "findings.jsonl"
"""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "monitor.toml"
    path.write_text(text)
    return path


def findings(directory: Path) -> list[dict[str, object]]:
    """The alerts the JSON-lines sink wrote."""
    path = directory / "findings.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def monitor_command(config: Path, action: str = "scan") -> list[str]:
    return [sys.executable, "-m", "witnessnet", "monitor", action, "--config", str(config)]


async def scan(config: Path) -> subprocess.CompletedProcess[bytes]:
    """Run `witnessnet monitor scan` to completion."""
    return await trio.run_process(
        monitor_command(config), check=False, capture_stdout=True, capture_stderr=True
    )


@asynccontextmanager
async def static_server(directory: Path) -> AsyncIterator[str]:
    """Serve directory with a plain static file server; yield its URL."""
    command = [sys.executable, "-m", "tests.monitor.static_server", str(directory)]
    process = await trio.lowlevel.open_process(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert process.stdout is not None
        line = b""
        with trio.fail_after(20):
            while not line.endswith(b"\n"):
                chunk = await process.stdout.receive_some(1)
                assert chunk, "static server exited"
                line += chunk
        yield json.loads(line)["url"]
    finally:
        process.kill()
        with trio.CancelScope(shield=True):
            await process.wait()
            if process.stdout is not None:
                await process.stdout.aclose()
