"""Test logs and a real witness process for the witness tests."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tlog.checkpoint import Checkpoint
from tlog.keys import Ed25519Signer
from tlog.merkle import RFC6962, MemoryTree
from tlog.note import sign_note
from witness.decide import AddCheckpointRequest
from witnessnet.commands.key import write_key_file


def leaf(tag: bytes, i: int) -> bytes:
    return RFC6962.leaf(tag + i.to_bytes(8, "big"))


@dataclass
class ToyLog:
    """A log of `size` leaves with a key; `fork_at` adds a second history sharing that prefix."""

    origin: str
    size: int
    fork_at: int | None = None
    signer: Ed25519Signer = field(init=False)
    tree: MemoryTree = field(init=False)
    fork: MemoryTree | None = field(init=False)
    _notes: dict[tuple[int, bool], bytes] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        seed = hashlib.sha256(b"test log key " + self.origin.encode()).digest()
        self.signer = Ed25519Signer(self.origin, seed)
        self.tree = MemoryTree(leaf(b"main", i) for i in range(self.size))
        self.fork = None
        if self.fork_at is not None:
            self.fork = MemoryTree(
                leaf(b"main" if i < self.fork_at else b"fork", i) for i in range(self.size)
            )

    @property
    def vkey(self) -> str:
        return self.signer.vkey()

    def _tree(self, forked: bool) -> MemoryTree:
        tree = self.fork if forked else self.tree
        assert tree is not None
        return tree

    def root(self, size: int, *, forked: bool = False) -> bytes:
        return self._tree(forked).root(size)

    def checkpoint(self, size: int, *, forked: bool = False) -> bytes:
        """The log-signed checkpoint note of the first `size` leaves (cached)."""
        key = (size, forked)
        if key not in self._notes:
            cp = Checkpoint(self.origin, size, self.root(size, forked=forked))
            self._notes[key] = sign_note(cp.body(), [self.signer]).to_bytes()
        return self._notes[key]

    def request(self, old: int, size: int, *, forked: bool = False) -> AddCheckpointRequest:
        proof = tuple(self._tree(forked).consistency_proof(old, size)) if old else ()
        return AddCheckpointRequest(old, proof, self.checkpoint(size, forked=forked))

    def body(self, old: int, size: int, *, forked: bool = False) -> bytes:
        return self.request(old, size, forked=forked).to_bytes()


WITNESS_KEY = Ed25519Signer("example.com/witness", hashlib.sha256(b"witness").digest())


def write_config(
    directory: Path,
    logs: list[tuple[str, list[str], int | None]],
    *,
    key: Ed25519Signer = WITNESS_KEY,
    tiles: dict[str, str] | None = None,
    ledgers: dict[str, tuple[str, str]] | None = None,
    top: dict[str, object] | None = None,
) -> Path:
    """A witness directory (key, config; no database) named after `key` (example.com/witness).

    `tiles` maps origins to tiles URLs, `ledgers` origins to (kind, url) of any ledger
    kind; `top` sets more top-level keys (e.g. poll_interval).
    """
    directory.mkdir(parents=True, exist_ok=True)
    key_file = directory / "witness.key"
    if not key_file.exists():
        write_key_file(key_file, key)
    settings: dict[str, object] = {
        "name": key.name,
        "key_file": "witness.key",
        "database": "witness.db",
        "listen": "127.0.0.1:0",
        **(top or {}),
    }
    lines = [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    for origin, vkeys, qpd in logs:
        lines += ["", "[[logs]]", f"origin = {json.dumps(origin)}", f"vkeys = {json.dumps(vkeys)}"]
        if qpd is not None:
            lines.append(f"qpd = {qpd}")
        if tiles and origin in tiles:
            lines.append(f"tiles_url = {json.dumps(tiles[origin])}")
        if ledgers and origin in ledgers:
            kind, url = ledgers[origin]
            lines += [f"kind = {json.dumps(kind)}", f"url = {json.dumps(url)}"]
    config = directory / "witness.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


class WitnessProcess:
    """`witnessnet witness serve` in a subprocess; `url` once it listens.

    stderr (JSON logs) goes to `stderr.log` beside the config file.
    """

    def __init__(self, config: Path, *extra: str) -> None:
        self.log_path = config.parent / "stderr.log"
        argv = [sys.executable, "-m", "witnessnet", "witness", "serve", "--config", str(config)]
        with open(self.log_path, "ab") as stderr:
            self.proc = subprocess.Popen(
                [*argv, *extra],
                stdout=subprocess.PIPE,
                stderr=stderr,
            )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            status = self.proc.wait()
            self.proc.stdout.close()
            raise RuntimeError(f"witness exited with {status}: {self.log_path.read_text()}")
        self.ready = json.loads(line)
        self.url: str = self.ready["url"]

    def stop(self) -> int:
        """SIGTERM, and the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        finally:
            self.proc.stdout.close()  # type: ignore[union-attr]

    def kill(self) -> None:
        """SIGKILL: no chance to flush or close anything."""
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()  # type: ignore[union-attr]
