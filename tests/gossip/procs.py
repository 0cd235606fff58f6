"""Real processes on 127.0.0.1 for the gossip integration tests: witnesses with gossip,
reference logs with their fork drill, and a webhook receiver (Starlette under hypercorn,
in a thread) that also plays a log whose tiles refuse or stall."""

from __future__ import annotations

import hashlib
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import hypercorn.config
import hypercorn.trio
import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tlog.keys import Ed25519Signer, generate_signer
from witnessnet.commands.key import write_key_file
from witnessnet.demo.procs import LogListening, log_serve_argv

SLOW_SECONDS = 5.0


def free_port() -> int:
    """A port the OS picks now, for a process that binds it in a moment."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, check: Callable[[], bool], timeout: float = 90.0) -> None:
    """Poll `check` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def origin_path(origin: str) -> str:
    return hashlib.sha256(origin.encode()).hexdigest()


class Receiver:
    """Records webhook alerts (POST /hook); /refuse/... answers 403 and /slow/... stalls."""

    def __init__(self) -> None:
        self.alerts: list[dict[str, Any]] = []
        self.url = ""
        self._ready = threading.Event()
        self._thread = threading.Thread(target=trio.run, args=(self._main,), daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        if not self._ready.wait(20):
            raise RuntimeError("webhook receiver did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
        self._thread.join(10)

    def pages(self) -> dict[tuple[str, str, str], set[str]]:
        """Alert ids of each (source, kind, subject) of class page, deduplicated by id."""
        return self.of_class("page")

    def of_class(self, cls: str) -> dict[tuple[str, str, str], set[str]]:
        out: dict[tuple[str, str, str], set[str]] = {}
        for a in list(self.alerts):
            if a["class"] == cls:
                out.setdefault((a["source"], a["kind"], a["subject"]), set()).add(a["id"])
        return out

    async def _hook(self, request: Request) -> Response:
        self.alerts.append(json.loads(await request.body()))
        return Response(status_code=204)

    async def _refuse(self, request: Request) -> Response:
        return PlainTextResponse("no tiles for you\n", 403)

    async def _slow(self, request: Request) -> Response:
        await trio.sleep(SLOW_SECONDS)
        return PlainTextResponse("too late\n", 503)

    async def _main(self) -> None:
        self._stop = trio.Event()
        self._token = trio.lowlevel.current_trio_token()
        app = Starlette(
            routes=[
                Route("/hook", self._hook, methods=["POST"]),
                Route("/refuse/{path:path}", self._refuse),
                Route("/slow/{path:path}", self._slow),
            ]
        )
        config = hypercorn.config.Config()
        config.bind = ["127.0.0.1:0"]
        config.accesslog = None
        config.graceful_timeout = 0.5
        async with trio.open_nursery() as nursery:
            serve = partial(hypercorn.trio.serve, app, config, shutdown_trigger=self._stop.wait)
            binds = await nursery.start(serve)
            self.url = binds[0]
            self._ready.set()


def _listening(proc: subprocess.Popen[bytes], what: str, log: Path) -> dict[str, Any]:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait()
        raise RuntimeError(f"{what} exited with {proc.returncode}: {log.read_text()[-3000:]}")
    return dict(json.loads(line))


def stop(procs: Iterable[subprocess.Popen[bytes]]) -> list[int]:
    """SIGTERM each process and wait; their exit statuses."""
    procs = list(procs)
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    statuses = []
    for p in procs:
        try:
            statuses.append(p.wait(timeout=15))
        except subprocess.TimeoutExpired:
            p.kill()
            statuses.append(p.wait())
        if p.stdout is not None:
            p.stdout.close()
    return statuses


@dataclass
class ForkedLog(LogListening):
    """A `witnessnet log serve --fork-at` process: the main log and its fork."""

    origin: str
    proc: subprocess.Popen[bytes]
    listening: dict[str, Any]


def start_forked_log(directory: Path, origin: str, fork_at: int) -> ForkedLog:
    directory.mkdir(parents=True)
    write_key_file(directory / "log.key", generate_signer(origin))
    log = directory / "stderr.log"
    extra = ["--batch-interval", "0.02", "--fork-at", str(fork_at), "--fork-listen", "127.0.0.1:0"]
    argv = log_serve_argv(directory / "log", directory / "log.key", origin, extra)
    with open(log, "ab") as stderr:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr)
    return ForkedLog(origin, proc, _listening(proc, f"log {origin}", log))


def checkpoint_size(http: httpx.Client, url: str) -> int:
    return int(http.get(f"{url}/checkpoint").text.split("\n")[1])


def grow(http: httpx.Client, url: str, count: int, tag: str) -> None:
    """Add `count` entries to the log at `url`, one by one."""
    for i in range(count):
        resp = http.post(f"{url}/add", content=f"{tag} {i}".encode())
        assert resp.status_code == 200, resp.text


@dataclass
class WitnessSpec:
    """What a witness process is made of; `logs` are TOML [[logs]] tables as dicts."""

    key: Ed25519Signer
    port: int
    logs: list[dict[str, Any]] = field(default_factory=list)


def write_witness(
    directory: Path,
    spec: WitnessSpec,
    network: Path,
    *,
    gossip: dict[str, Any],
    alerts: dict[str, Any],
) -> Path:
    """A witness directory (key and config; --init creates the database)."""
    directory.mkdir(parents=True, exist_ok=True)
    write_key_file(directory / "witness.key", spec.key)
    lines = [
        f"name = {json.dumps(spec.key.name)}",
        'key_file = "witness.key"',
        'database = "witness.db"',
        f'listen = "127.0.0.1:{spec.port}"',
        "poll_interval = 0.3",
    ]
    for table in spec.logs:
        lines += ["", "[[logs]]", *(f"{k} = {json.dumps(v)}" for k, v in table.items())]
    lines += ["", "[gossip]", f"network_file = {json.dumps(str(network))}"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in gossip.items()]
    lines += ["", "[alerts]", *(f"{k} = {json.dumps(v)}" for k, v in alerts.items())]
    config = directory / "witness.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def network_file(path: Path, specs: Iterable[WitnessSpec]) -> Path:
    path.write_text(
        "".join(f"witness {s.key.name} {s.key.vkey()} http://127.0.0.1:{s.port}\n" for s in specs)
    )
    return path


def start_witnesses(configs: list[Path]) -> list[tuple[subprocess.Popen[bytes], dict[str, Any]]]:
    """Start every witness at once (with --init), then wait for each to listen."""
    procs = []
    for config in configs:
        with open(config.parent / "stderr.log", "ab") as stderr:
            argv = [sys.executable, "-m", "witnessnet", "witness", "serve", "--init",
                    "--config", str(config)]  # fmt: skip
            procs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr))
    return [
        (p, _listening(p, f"witness {c}", c.parent / "stderr.log"))
        for p, c in zip(procs, configs, strict=True)
    ]
