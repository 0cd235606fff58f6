"""`witnessnet demo`: run a local reference log, append to it, verify everything, stage a fork.

Also home of ``log_server``, which runs `witnessnet log serve` as a child process
and waits for its listening line (the demo and the integration tests use it).
"""

from __future__ import annotations

import argparse
import base64
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import trio

from tlog.checkpoint import Checkpoint, SignedCheckpoint
from tlog.errors import ProofError, TlogError
from tlog.keys import generate_signer, parse_vkey
from tlog.merkle import RFC6962, verify_consistency, verify_inclusion
from tlog.tiles_client import TiledLogClient
from witnessnet.commands.key import write_key_file
from witnessnet.commands.log import expected_errors

ORIGIN = "demo.witnessnet.example/log"
ENTRIES = 300
FORK_AT = 200
CONNECTIONS = 32

ORDER = 50


class DemoError(Exception):
    """A step of the demo that did not verify."""


FAILURES = (DemoError, TlogError, httpx.HTTPError, OSError, trio.TooSlowError)


@dataclass(frozen=True)
class LogProcess:
    """A running `witnessnet log serve` child and the JSON line it printed when listening."""

    process: trio.Process
    listening: dict[str, Any]

    @property
    def url(self) -> str:
        return str(self.listening["url"])

    @property
    def fork_url(self) -> str:
        return str(self.listening["fork_url"])

    @property
    def vkey(self) -> str:
        return str(self.listening["vkey"])


async def _read_line(stream: trio.abc.ReceiveStream) -> bytes:
    line = b""
    while not line.endswith(b"\n"):
        chunk = await stream.receive_some(1)
        if not chunk:
            break
        line += chunk
    return line


@asynccontextmanager
async def log_server(
    directory: Path,
    key_file: Path,
    origin: str,
    extra_args: Sequence[str] = (),
    stderr: IO[bytes] | int = subprocess.DEVNULL,
    startup_timeout: float = 20.0,
) -> AsyncIterator[LogProcess]:
    """Run `witnessnet log serve` on 127.0.0.1 (port chosen by the OS) until the block ends.

    On exit the child gets SIGTERM (SIGKILL if it has not exited within 10 s),
    unless the block already ended it.
    """
    command = [
        sys.executable, "-m", "witnessnet", "log", "serve",
        "--dir", str(directory), "--key", str(key_file), "--origin", origin,
        "--listen", "127.0.0.1:0", *extra_args,
    ]  # fmt: skip
    process = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE, stderr=stderr)
    try:
        assert process.stdout is not None
        with trio.move_on_after(startup_timeout):
            line = await _read_line(process.stdout)
        if not line.endswith(b"\n"):
            raise DemoError(f"`{' '.join(command)}` did not start listening")
        yield LogProcess(process, json.loads(line))
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            with trio.move_on_after(10):
                await process.wait()
            if process.returncode is None:
                process.kill()
        with trio.CancelScope(shield=True):
            await process.wait()
            if process.stdout is not None:
                await process.stdout.aclose()


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode("ascii")


def _show(cp: Checkpoint) -> str:
    return f"size {cp.size}, root {_b64(cp.root)}"


class Demo:
    """The demo's steps against one running log; each raises DemoError if it fails."""

    def __init__(self, log: LogProcess, http: httpx.AsyncClient) -> None:
        self.log = log
        self.http = http
        verifiers = [parse_vkey(log.vkey)]
        self.client = TiledLogClient(log.url, verifiers, http, origin=ORIGIN)
        self.fork = TiledLogClient(log.fork_url, verifiers, http, origin=ORIGIN)
        self.indices: dict[bytes, int] = {}

    async def _add(self, url: str, entry: bytes) -> int:
        resp = await self.http.post(f"{url}/add", content=entry)
        if resp.status_code != 200:
            raise DemoError(f"POST {url}/add answered {resp.status_code}: {resp.text.strip()}")
        return int(resp.text)

    async def append(self, first: int, count: int) -> Checkpoint:
        async def one(i: int) -> None:
            entry = f"demo entry {i}".encode()
            self.indices[entry] = await self._add(self.log.url, entry)

        async with trio.open_nursery() as nursery:
            for i in range(first, first + count):
                nursery.start_soon(one, i)
        return (await self.client.fetch_checkpoint()).checkpoint

    async def verify_entries(self, cp: Checkpoint) -> list[bytes]:
        entries = [e async for e in self.client.entries(0, cp.size)]
        for entry, index in self.indices.items():
            if entries[index] != entry:
                raise DemoError(f"entry {index} is {entries[index]!r}, /add promised {entry!r}")
        root = await self.client.tree_root(cp.size)
        if root != cp.root:
            raise DemoError("the tiles do not hash to the checkpoint root")
        return entries

    async def verify_inclusion(self, cp: Checkpoint, entries: list[bytes]) -> None:
        async def one(index: int) -> None:
            proof = await self.client.inclusion_proof(index, cp.size)
            verify_inclusion(RFC6962.leaf(entries[index]), index, cp.size, proof, cp.root)

        async with trio.open_nursery() as nursery:
            for index in range(cp.size):
                nursery.start_soon(one, index)

    async def verify_consistency(self, old: Checkpoint, new: Checkpoint) -> int:
        proof = await self.client.consistency_proof(old.size, new.size)
        verify_consistency(old.size, new.size, old.root, new.root, proof)
        return len(proof)

    async def fork_drill(self) -> tuple[SignedCheckpoint, SignedCheckpoint, str]:
        """Grow the fork past the main log; return both signed checkpoints and the
        reason the fork's consistency proof fails against the main log's."""
        logged = await self.client.fetch_checkpoint()
        main = logged.checkpoint
        with trio.fail_after(15):
            while (await self.fork.fetch_checkpoint()).checkpoint.size < main.size:
                await trio.sleep(0.05)
        for i in range(2):
            await self._add(self.log.fork_url, f"fork-only entry {i}".encode())
        forked = await self.fork.fetch_checkpoint()
        fork = forked.checkpoint
        shared = await self.fork.tree_root(FORK_AT, fork.size)
        if shared != await self.client.tree_root(FORK_AT, main.size):
            raise DemoError(f"the fork does not share the main log's first {FORK_AT} entries")
        proof = await self.fork.consistency_proof(main.size, fork.size)
        try:
            verify_consistency(main.size, fork.size, main.root, fork.root, proof)
        except ProofError as e:
            return logged, forked, str(e)
        raise DemoError("the fork's consistency proof verified: no split view was staged")


async def run_demo(out: IO[str]) -> None:
    def say(line: str) -> None:
        print(line, file=out, flush=True)

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="witnessnet-demo-") as tmp:
        key_file = Path(tmp) / "log.key"
        write_key_file(key_file, generate_signer(ORIGIN))
        stderr_path = Path(tmp) / "log-serve.stderr"
        with open(stderr_path, "wb") as stderr:
            try:
                await _run_steps(Path(tmp), key_file, stderr, say)
            except BaseException:
                say(f"log serve stderr (last lines of {stderr_path}):")
                for line in stderr_path.read_text("utf-8", "replace").splitlines()[-10:]:
                    say(f"  {line}")
                raise
    say(f"OK: every entry, proof and signature verified in {time.monotonic() - started:.1f} s")


async def _run_steps(
    tmp: Path, key_file: Path, stderr: IO[bytes], say: Callable[[str], None]
) -> None:
    args = ["--batch-interval", "0.1", "--fork-at", str(FORK_AT), "--fork-listen", "127.0.0.1:0"]
    limits = httpx.Limits(max_connections=CONNECTIONS)
    async with (
        log_server(tmp / "log", key_file, ORIGIN, args, stderr) as log,
        httpx.AsyncClient(timeout=10, limits=limits) as http,
    ):
        say(f"log   {log.url}  origin {ORIGIN}")
        say(f"      vkey {log.vkey}")
        say(f"fork  {log.fork_url}  same key and origin, diverges after entry {FORK_AT}")
        demo = Demo(log, http)
        half = ENTRIES // 2
        first = await demo.append(0, half)
        say(f"[1/5] appended {half} entries concurrently over HTTP: checkpoint {_show(first)}")
        second = await demo.append(half, ENTRIES - half)
        say(f"[2/5] appended {ENTRIES - half} more: checkpoint {_show(second)}")
        entries = await demo.verify_entries(second)
        await demo.verify_inclusion(second, entries)
        say(
            f"[3/5] fetched {len(entries)} entries from the entry bundles, each at the index "
            f"/add returned;\n      the tiles hash to the root; {second.size} inclusion "
            "proofs verified"
        )
        hashes = await demo.verify_consistency(first, second)
        say(f"[4/5] consistency proof {first.size} -> {second.size} ({hashes} hashes) verified")
        logged, forked, failure = await demo.fork_drill()
        say("[5/5] split view: two checkpoints of one origin, both signed by the log's key")
        for name, signed in (("log", logged), ("fork", forked)):
            say(f"      {name} {log.url if name == 'log' else log.fork_url}/checkpoint:")
            for line in signed.note.to_bytes().decode().splitlines():
                say(f"        | {line}")
        say(f"      the trees agree up to size {FORK_AT}; the fork's consistency proof")
        say(f"      {logged.checkpoint.size} -> {forked.checkpoint.size} fails: {failure}")


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        trio.run(run_demo, sys.stdout)
    except (BaseExceptionGroup, *FAILURES) as error:
        errors = (
            expected_errors(error, FAILURES) if isinstance(error, BaseExceptionGroup) else [error]
        )
        for e in errors:
            print(f"FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run a local reference log and verify it end to end",
        description=(
            "Start `witnessnet log serve` on 127.0.0.1 with a fresh directory and key, append "
            f"{ENTRIES} entries over HTTP concurrently, fetch the checkpoint, tiles and entry "
            "bundles, verify every entry's inclusion proof and a consistency proof between two "
            "checkpoints, then run the split-view drill: a fork with the same key and origin "
            f"that diverges after entry {FORK_AT}, whose checkpoint is provably inconsistent "
            "with the log's. Exit 0 only if everything verified."
        ),
    )
    p.set_defaults(func=cmd_demo)
