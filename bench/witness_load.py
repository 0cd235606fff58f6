"""Load-test the witness daemon on loopback against the limits measured in the same run.

Runs `witnessnet witness serve` as a subprocess and a load generator as a second
subprocess (asyncio, raw HTTP/1.1 over keep-alive connections: cheaper per request
than any HTTP client library, so the generator is not what is measured). Every
request is a real durable advance: request bodies are pre-built, each log's
checkpoints growing in sequence (by STEP leaves of one shared tree of about a
million leaves, so proofs are of realistic length), and each log's next request
is sent only after its previous one was answered. Prints:

- durable add-checkpoint/s at saturation (closed loop, many connections);
- p50/p99 latency at fixed offered rates of 100, 300 and 1000 req/s (open loop:
  each request is scheduled at a fixed time and its latency counted from then,
  so a stall delays the requests behind it and shows in the tail);
- the serial limit: verify + compare-and-swap with fsync + sign, one request
  at a time in-process with the same Witness and Store code, beside raw Ed25519
  verify/s and raw fsync/s of the same disk;
- RSS of a witness configured with 40,000 logs, idle and after one cosigned
  checkpoint per log.

Usage: python bench/witness_load.py [--logs N] [--duration S] [--rss-logs N]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import trio
from cryptography.hazmat.primitives.asymmetric import ed25519

from tlog.checkpoint import Checkpoint
from tlog.cosignature import CosignatureV1Signer
from tlog.keys import Ed25519Signer
from tlog.merkle import MemoryTree
from tlog.note import sign_note
from tlog.witness_client import build_add_checkpoint_body
from witness.decide import parse_request
from witness.registry import CONFIG_SOURCE, Registry, TrustedLog
from witness.service import Cosigned, Witness
from witness.store import Store

BASE = 1_000_003
STEP = 997
RATES = (100, 300, 1000)
WITNESS_NAME = "bench.example/witness"


def origin(i: int) -> str:
    return f"bench.example/log{i:05d}"


def log_signer(i: int) -> Ed25519Signer:
    return Ed25519Signer(origin(i), hashlib.sha256(b"witness-load log %d" % i).digest())


def sizes(per_log: int) -> list[int]:
    """A log's stored size before each of its requests, then after the last."""
    return [0] + [BASE + STEP * j for j in range(per_log)]


def build_bodies(logs: range, per_log: int) -> list[list[bytes]]:
    """bodies[i][j]: log i's request j, from size(j) to size(j + 1)."""
    s = sizes(per_log)
    tree = MemoryTree(hashlib.sha256(n.to_bytes(8, "big")).digest() for n in range(s[-1]))
    steps = [
        (tree.root(s[j + 1]), tree.consistency_proof(s[j], s[j + 1]) if j else [])
        for j in range(per_log)
    ]
    out = []
    for i in logs:
        signer = log_signer(i)
        chain = []
        for j, (root, proof) in enumerate(steps):
            note = sign_note(Checkpoint(origin(i), s[j + 1], root).body(), [signer]).to_bytes()
            chain.append(build_add_checkpoint_body(s[j], proof, note))
        out.append(chain)
    return out


def write_witness(directory: Path, logs: int) -> Path:
    """Key, config (every log pushed, no feeders) and nothing else; --init creates the db."""
    directory.mkdir(parents=True)
    signer = Ed25519Signer(WITNESS_NAME, hashlib.sha256(b"witness-load witness").digest())
    key = directory / "witness.key"
    key.write_text(signer.private_key_string() + "\n")
    key.chmod(0o600)
    lines = [
        f'name = "{WITNESS_NAME}"',
        'key_file = "witness.key"',
        'database = "witness.db"',
        'listen = "127.0.0.1:0"',
    ]
    for i in range(logs):
        lines += ["[[logs]]", f'origin = "{origin(i)}"', f'vkeys = ["{log_signer(i).vkey()}"]']
    config = directory / "witness.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


@contextmanager
def witness_daemon(config: Path) -> Iterator[dict[str, Any]]:
    """The daemon as a subprocess; yields its listening line (url, pid)."""
    command = [sys.executable, "-m", "witnessnet", "witness", "serve", "--config", str(config)]
    started = time.perf_counter()
    with open(config.parent / "stderr.log", "wb") as stderr:
        proc = subprocess.Popen([*command, "--init"], stdout=subprocess.PIPE, stderr=stderr)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"witness did not start: {(config.parent / 'stderr.log').read_text()}")
        ready = json.loads(line)
        ready["startup_s"] = time.perf_counter() - started
        yield ready
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process, in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used."""
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


# The load generator (a separate process: `--generator`).


class Connection:
    """One keep-alive HTTP/1.1 connection sending add-checkpoint requests."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        return cls(*await asyncio.open_connection(host, port))

    async def post(self, body: bytes) -> int:
        head = b"POST /add-checkpoint HTTP/1.1\r\nhost: w\r\ncontent-length: %d\r\n\r\n"
        self.writer.write(head % len(body) + body)
        header = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in header.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(header[9:12])


class Generator:
    """Sends pre-built bodies; `next_j[i]` is log i's next request."""

    def __init__(
        self, url: str, witness_pid: int, logs: int, per_log: int, connections: int
    ) -> None:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        self.address = (host, int(port))
        self.witness_pid = witness_pid
        self.logs = logs
        self.connections = connections
        started = time.perf_counter()
        self.bodies = build_bodies(range(logs), per_log)
        self.build_s = time.perf_counter() - started
        self.next_j = [0] * logs
        self.failures: dict[int, int] = {}

    def take(self, i: int) -> bytes:
        j = self.next_j[i]
        self.next_j[i] += 1
        return self.bodies[i][j]

    def count(self, status: int) -> None:
        if status != 200:
            self.failures[status] = self.failures.get(status, 0) + 1

    async def closed_loop(self, rounds: int) -> dict[str, float]:
        """Each connection advances its own logs `rounds` times each, as fast as it can."""
        conns = [await Connection.open(*self.address) for _ in range(self.connections)]

        async def work(c: int) -> None:
            mine = range(c, self.logs, self.connections)
            for _ in range(rounds):
                for i in mine:
                    self.count(await conns[c].post(self.take(i)))

        wall, cpu, witness_cpu = (
            time.perf_counter(),
            time.process_time(),
            cpu_seconds(self.witness_pid),
        )
        await asyncio.gather(*(work(c) for c in range(self.connections)))
        wall = time.perf_counter() - wall
        result = {
            "requests": rounds * self.logs,
            "seconds": wall,
            "generator_cpu": (time.process_time() - cpu) / wall,
            "witness_cpu": (cpu_seconds(self.witness_pid) - witness_cpu) / wall,
        }
        for conn in conns:
            conn.writer.close()
        return result

    async def open_loop(self, rate: float, duration: float) -> dict[str, Any]:
        """Request k is due at start + k / rate, to log k mod logs; latency from due time."""
        total = int(rate * duration)
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
        latencies: list[float] = []
        conns = [await Connection.open(*self.address) for _ in range(self.connections)]
        start = time.perf_counter() + 0.05
        cursor = sum(self.next_j)

        async def schedule() -> None:
            for k in range(total):
                due = start + k / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                queue.put_nowait((due, self.take((cursor + k) % self.logs)))
            for _ in conns:
                queue.put_nowait(None)

        async def work(conn: Connection) -> None:
            while (item := await queue.get()) is not None:
                due, body = item
                self.count(await conn.post(body))
                latencies.append(time.perf_counter() - due)

        await asyncio.gather(schedule(), *(work(c) for c in conns))
        elapsed = time.perf_counter() - start
        for conn in conns:
            conn.writer.close()
        latencies.sort()
        return {
            "rate": rate,
            "requests": total,
            "achieved": total / elapsed,
            "p50_ms": latencies[len(latencies) // 2] * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
            "max_ms": latencies[-1] * 1000,
        }


async def generate(args: argparse.Namespace) -> dict[str, Any]:
    gen = Generator(args.url, args.witness_pid, args.logs, args.per_log, args.connections)
    out: dict[str, Any] = {"build_s": gen.build_s, "bodies": args.logs * args.per_log}
    out["first"] = await gen.closed_loop(1)
    if args.saturation_rounds:
        out["saturation"] = await gen.closed_loop(args.saturation_rounds)
        out["open_loop"] = [await gen.open_loop(rate, args.duration) for rate in RATES]
    out["failures"] = gen.failures
    return out


def run_generator(url: str, pid: int, logs: int, per_log: int, **options: Any) -> dict[str, Any]:
    command = [sys.executable, __file__, "--generator", "--url", url, "--witness-pid", str(pid)]
    command += ["--logs", str(logs), "--per-log", str(per_log)]
    for key, value in options.items():
        command += [f"--{key.replace('_', '-')}", str(value)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"load generator failed:\n{done.stderr}")
    return json.loads(done.stdout)


# Limits, measured in this process.


def raw_verify_rate(seconds: float = 1.0) -> float:
    key = ed25519.Ed25519PrivateKey.generate()
    public, message = key.public_key(), b"x" * 120
    signature = key.sign(message)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(200):
            public.verify(signature, message)
        n += 200
    return n / (time.perf_counter() - start)


def raw_fsync_rate(directory: Path, seconds: float = 1.5) -> float:
    """Overwrite one 4 KiB page and fsync, as fast as the disk allows."""
    path = directory / "fsync.bin"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            os.pwrite(fd, os.urandom(4096), 0)
            os.fsync(fd)
            n += 1
        return n / (time.perf_counter() - start)
    finally:
        os.close(fd)
        path.unlink()


async def serial_rate(directory: Path, logs: int, rounds: int) -> float:
    """Requests/s through Witness.submit one at a time: each its own commit and fsync."""
    bodies = build_bodies(range(logs), rounds + 1)
    signer = CosignatureV1Signer(Ed25519Signer(WITNESS_NAME, bytes(32)))
    store = Store.open(directory / "serial.db", create=True)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(store.run)
            witness = Witness(signer, store, Registry())
            trusted = [
                TrustedLog(origin(i), (log_signer(i).vkey(),), CONFIG_SOURCE) for i in range(logs)
            ]
            await witness.trust(trusted, authoritative=True)
            for chain in bodies:
                await witness.submit(parse_request(chain[0]), rate_limit=False)
            start = time.perf_counter()
            for j in range(1, rounds + 1):
                for chain in bodies:
                    outcome = await witness.submit(parse_request(chain[j]), rate_limit=False)
                    assert isinstance(outcome, Cosigned) and outcome.advanced, outcome
            rate = logs * rounds / (time.perf_counter() - start)
            nursery.cancel_scope.cancel()
    finally:
        store.close()
    return rate


def report(lines: Sequence[str]) -> None:
    for line in lines:
        print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=int, default=2000, help="logs under load (default 2000)")
    parser.add_argument("--rounds", type=int, default=10, help="saturation: advances per log")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per fixed rate")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rss-logs", type=int, default=40_000)
    parser.add_argument("--generator", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--witness-pid", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--per-log", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--saturation-rounds", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generator:
        print(json.dumps(asyncio.run(generate(args))))
        return

    report(
        [
            f"witness load benchmark: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
            f"load average {os.getloadavg()[0]:.2f} at start (other processes compete for the CPUs)"
        ]
    )
    with tempfile.TemporaryDirectory(prefix="witness-load-", dir=Path.cwd()) as tmp:
        directory = Path(tmp)
        verify = raw_verify_rate()
        fsync = raw_fsync_rate(directory)
        serial = trio.run(serial_rate, directory, 100, 3)
        report(
            [
                f"raw Ed25519 verify (cryptography):          {verify:9,.0f} /s",
                f"raw fsync of a 4 KiB page ({directory.parent}):  {fsync:9,.0f} /s",
                f"serial limit (verify + CAS fsync + sign):   {serial:9,.0f} req/s"
                "   one request at a time, same Witness/Store code",
            ]
        )

        per_log = 1 + args.rounds + -(-sum(RATES) * int(args.duration) // args.logs) + 1
        with witness_daemon(write_witness(directory / "load", args.logs)) as ready:
            load = run_generator(
                ready["url"],
                ready["pid"],
                args.logs,
                per_log,
                connections=args.connections,
                saturation_rounds=args.rounds,
                duration=args.duration,
            )
            served_by = ready["pid"]
            rss_after_load = rss_mb(served_by)[0]
        sat = load["saturation"]
        report(
            [
                f"load generator: separate process, asyncio + raw HTTP/1.1 keep-alive, "
                f"{args.connections} connections, on the same {os.cpu_count()} CPUs as the witness",
                f"  pre-built {load['bodies']:,} bodies ({args.logs:,} logs, each advancing "
                f"{STEP} leaves per request from size {BASE:,}) in {load['build_s']:.1f} s",
                f"saturation: {sat['requests'] / sat['seconds']:9,.0f} durable add-checkpoint/s"
                f"   ({sat['requests']:,} advances in {sat['seconds']:.1f} s; CPU: witness "
                f"{sat['witness_cpu']:.2f} cores, generator {sat['generator_cpu']:.2f} cores)",
            ]
        )
        for r in load["open_loop"]:
            report(
                [
                    f"open loop {r['rate']:5d} req/s offered ({r['requests']:,} requests, achieved "
                    f"{r['achieved']:,.0f}/s): p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms"
                    f"  max {r['max_ms']:6.1f} ms"
                ]
            )
        failures = load["failures"]
        report(
            [
                f"non-200 answers: {failures or 'none'}; "
                f"witness RSS after the load: {rss_after_load:.0f} MB"
            ]
        )

        with witness_daemon(write_witness(directory / "rss", args.rss_logs)) as ready:
            idle, _ = rss_mb(ready["pid"])
            fill = run_generator(
                ready["url"], ready["pid"], args.rss_logs, 1, connections=args.connections
            )
            after, peak = rss_mb(ready["pid"])
        first = fill["first"]
        report(
            [
                f"{args.rss_logs:,} configured logs: started in {ready['startup_s']:.1f} s, "
                f"RSS {idle:.0f} MB idle; {after:.0f} MB (peak {peak:.0f} MB) after one cosigned "
                f"checkpoint per log (sent at {first['requests'] / first['seconds']:,.0f}/s; "
                f"non-200 answers: {fill['failures'] or 'none'})",
                f"load average {os.getloadavg()[0]:.2f} at the end",
            ]
        )


if __name__ == "__main__":
    main()
