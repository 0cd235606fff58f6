"""Child processes for the demo and the integration tests: real `python -m witnessnet ...`
subprocesses, the JSON line a daemon prints once it listens, and a clean stop.

A daemon that listens prints one JSON object on stdout (`{"event": "listening",
"url": ...}`); we read exactly that line. Stopping sends SIGTERM (every daemon exits 0
on it) and SIGKILL after a grace period, and always reaps the child, so no zombie or
orphan outlives the block that started it.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import trio

STOP_GRACE_SECONDS = 10.0


class ChildError(Exception):
    """A child process did not start, or died, with the end of its stderr."""


def free_port() -> int:
    """A port the OS picks now, for a daemon that must be named in a config before it runs
    (a network file lists every witness's URL)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def witnessnet_argv(*args: str) -> list[str]:
    """The command line of `witnessnet ARGS` run with this interpreter."""
    return [sys.executable, "-m", "witnessnet", *args]


async def _read_line(stream: trio.abc.ReceiveStream) -> bytes:
    line = b""
    while not line.endswith(b"\n"):
        chunk = await stream.receive_some(1)
        if not chunk:
            break
        line += chunk
    return line


async def stop_process(process: trio.Process, grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM, SIGKILL after `grace` seconds, and reap; safe to call on an ended process."""
    with trio.CancelScope(shield=True):
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            with trio.move_on_after(grace):
                await process.wait()
            if process.returncode is None:
                process.kill()
        await process.wait()
        if process.stdout is not None:
            await process.stdout.aclose()


def tail(path: Path, lines: int = 10) -> str:
    """The last lines of a child's stderr file, for error messages."""
    try:
        text = path.read_text("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class Child:
    """A started child: its name in messages, its process, its stderr file, and the JSON
    line it printed when it started listening (empty for a daemon that prints none)."""

    name: str
    process: trio.Process
    stderr: Path
    argv: list[str]
    listening: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    @property
    def url(self) -> str:
        return str(self.listening["url"])

    def died(self) -> ChildError:
        return ChildError(
            f"{self.name} exited with status {self.process.returncode}; "
            f"the end of {self.stderr}:\n{tail(self.stderr)}"
        )


class Children:
    """Every child the demo started; `stop_all` ends them together."""

    def __init__(self) -> None:
        self.children: list[Child] = []

    async def start(self, name: str, argv: Sequence[str], stderr: Path) -> Child:
        """Start a child with stdout piped (for its listening line) and stderr to a file."""
        with open(stderr, "ab") as err:
            process = await trio.lowlevel.open_process(
                list(argv), stdout=subprocess.PIPE, stderr=err
            )
        child = Child(name, process, stderr, list(argv))
        self.children.append(child)
        return child

    async def listening(self, child: Child, timeout: float = 90.0) -> dict[str, Any]:
        """Wait for the child's listening line; ChildError if it dies or stays silent."""
        assert child.process.stdout is not None
        with trio.move_on_after(timeout):
            line = await _read_line(child.process.stdout)
        if not line.endswith(b"\n"):
            if child.process.returncode is None:
                with trio.move_on_after(1):
                    await child.process.wait()
            if child.process.returncode is not None:
                raise child.died()
            raise ChildError(f"{child.name} printed no listening line within {timeout:.0f} s")
        child.listening = dict(json.loads(line))
        return child.listening

    def check_alive(self) -> None:
        """Raise ChildError for the first child that exited on its own."""
        for child in self.children:
            if child.process.poll() is not None:
                raise child.died()

    async def stop_all(self) -> None:
        """Stop every child at once, each with SIGTERM then SIGKILL, and reap them."""
        with trio.CancelScope(shield=True):
            async with trio.open_nursery() as nursery:
                for child in self.children:
                    nursery.start_soon(stop_process, child.process)


class LogListening:
    """What the line `witnessnet log serve` prints when it listens says: its URL, its
    fork's URL (with --fork-at) and its key. A base for classes with a `listening` dict."""

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


@dataclass(frozen=True)
class LogProcess(LogListening):
    """A running `witnessnet log serve` child and the JSON line it printed when listening."""

    process: trio.Process
    listening: dict[str, Any]


def log_serve_argv(
    directory: Path,
    key_file: Path,
    origin: str,
    extra_args: Sequence[str] = (),
    listen: str = "127.0.0.1:0",
) -> list[str]:
    """`witnessnet log serve` on `listen` (by default 127.0.0.1 with a port the OS picks)."""
    return witnessnet_argv(
        "log", "serve", "--dir", str(directory), "--key", str(key_file), "--origin", origin,
        "--listen", listen, *extra_args,
    )  # fmt: skip


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
    command = log_serve_argv(directory, key_file, origin, extra_args)
    process = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE, stderr=stderr)
    try:
        assert process.stdout is not None
        with trio.move_on_after(startup_timeout):
            line = await _read_line(process.stdout)
        if not line.endswith(b"\n"):
            raise ChildError(f"`{' '.join(command)}` did not start listening")
        yield LogProcess(process, json.loads(line))
    finally:
        await stop_process(process)
