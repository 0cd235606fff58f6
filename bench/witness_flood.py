"""Does the witness keep cosigning a well-behaved log while a flood of bad requests hits it?

Starts `witnessnet witness serve` (a subprocess) with small [limits], and one
well-behaved log client in this process that advances its log every
--interval seconds from 127.0.0.1 and times each cosignature. First the
client runs alone (the unloaded figure); then a SEPARATE flooder process
attacks from 8 other loopback addresses at ten times the configured limits:

- bad signatures: the good log's checkpoint with a corrupted log signature (403,
  each one costs the witness an Ed25519 verification when it gets through);
- unknown origins: well-formed requests for a log the witness does not know (404);
- oversized bodies: a declared 1 MiB body (413 without reading it);
- slow senders: 10 x max_inflight connections that send their request head one
  byte per second (slowloris) and, as many again, a head then a dripping body.

The request floods are offered at 10 x client_requests_per_second from each
address. Prints the well-behaved client's p50/p99 unloaded and under flood, the
flood's offered and answered rates by status, and the witness's limit counters.

Usage: python bench/witness_flood.py [--duration S] [--interval S]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from witness_load import cpu_seconds, witness_daemon  # the same daemon start and CPU probe

from tlog.checkpoint import Checkpoint
from tlog.keys import Ed25519Signer
from tlog.merkle import RFC6962, MemoryTree
from tlog.note import sign_note
from tlog.witness_client import build_add_checkpoint_body

WITNESS_NAME = "flood.example/witness"
GOOD = "flood.example/good-log"
LIMITS = {
    "client_requests_per_second": 20,
    "client_burst": 40,
    "max_inflight": 16,
    "max_queue": 64,
    "header_timeout_seconds": 5,
    "read_timeout_seconds": 5,
    "max_header_bytes": 16384,
}
FLOOD_ADDRESSES = [f"127.0.1.{i}" for i in range(1, 9)]
METRICS_ADDRESS = "127.0.2.1"
CONNECTIONS_PER_ADDRESS = 16


def good_signer() -> Ed25519Signer:
    return Ed25519Signer(GOOD, hashlib.sha256(b"witness-flood good log").digest())


def write_witness(directory: Path) -> Path:
    signer = Ed25519Signer(WITNESS_NAME, hashlib.sha256(b"witness-flood witness").digest())
    key = directory / "witness.key"
    key.write_text(signer.private_key_string() + "\n")
    key.chmod(0o600)
    lines = [
        f'name = "{WITNESS_NAME}"',
        'key_file = "witness.key"',
        'database = "witness.db"',
        'listen = "127.0.0.1:0"',
        "[[logs]]",
        f'origin = "{GOOD}"',
        f'vkeys = ["{good_signer().vkey()}"]',
        "[limits]",
        *(f"{k} = {v}" for k, v in LIMITS.items()),
    ]
    config = directory / "witness.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def good_bodies(n: int) -> list[bytes]:
    """n successive advances of the good log, one leaf at a time."""
    signer = good_signer()
    tree = MemoryTree(RFC6962.leaf(i.to_bytes(8, "big")) for i in range(n + 1))
    out = []
    for size in range(1, n + 1):
        note = sign_note(Checkpoint(GOOD, size, tree.root(size)).body(), [signer]).to_bytes()
        proof = tree.consistency_proof(size - 1, size) if size > 1 else []
        out.append(build_add_checkpoint_body(size - 1, proof, note))
    return out


def bad_bodies() -> dict[str, bytes]:
    tree = MemoryTree(RFC6962.leaf(i.to_bytes(8, "big")) for i in range(4))
    good = sign_note(Checkpoint(GOOD, 4, tree.root(4)).body(), [good_signer()]).to_bytes()
    # Flip one byte of the signature (inside the base64 of the last line, before its newline).
    bad_sig = good[:-10] + (b"A" if good[-10:-9] != b"A" else b"B") + good[-9:]
    stranger = Ed25519Signer("flood.example/unknown", bytes(32))
    unknown = sign_note(Checkpoint(stranger.name, 4, tree.root(4)).body(), [stranger]).to_bytes()
    return {
        "bad_signature": build_add_checkpoint_body(0, [], bad_sig),
        "unknown_origin": build_add_checkpoint_body(0, [], unknown),
    }


def post(body: bytes) -> bytes:
    return (
        b"POST /add-checkpoint HTTP/1.1\r\nhost: w\r\ncontent-length: %d\r\n\r\n" % len(body) + body
    )


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, whether the server will close) of one response; the body is discarded."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection", "").lower() == "close"


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


async def good_client(
    port: int, bodies: list[bytes], interval: float, duration: float
) -> list[float]:
    """Advance the good log every `interval` seconds for `duration`; latencies in ms."""
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    latencies: list[float] = []
    start = loop.time()
    next_at = start
    while loop.time() - start < duration and bodies:
        body = bodies.pop(0)
        t0 = time.perf_counter()
        writer.write(post(body))
        status, close = await read_response(reader)
        latencies.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            raise SystemExit(f"the well-behaved log was refused: HTTP {status}")
        if close:
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - loop.time()))
    writer.close()
    return latencies


# --- the flooder (its own process) ---------------------------------------------------------


async def flood_requests(
    port: int, local: str, request: bytes, rate: float, stop: float, counts: Counter[str]
) -> None:
    """Paced requests on one keep-alive connection (reconnecting when the server closes)."""
    loop = asyncio.get_running_loop()
    next_at = loop.time()
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    while loop.time() < stop:
        try:
            if conn is None:
                conn = await asyncio.open_connection("127.0.0.1", port, local_addr=(local, 0))
            reader, writer = conn
            writer.write(request)
            counts["offered"] += 1
            status, close = await asyncio.wait_for(read_response(reader), 10)
            counts[str(status)] += 1
            if close:
                writer.close()
                conn = None
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            counts["closed_by_witness"] += 1
            if conn is not None:
                conn[1].close()
            conn = None
        next_at += 1 / rate
        await asyncio.sleep(max(0.0, next_at - loop.time()))


async def slow_sender(port: int, local: str, body: bool, stop: float, counts: Counter[str]) -> None:
    """Drip a request (head, or head then body) one byte per second; count server cut-offs."""
    loop = asyncio.get_running_loop()
    head = b"POST /add-checkpoint HTTP/1.1\r\nhost: w\r\n"
    if body:
        head += b"content-length: 60000\r\n\r\n"
        drip = b"old 0\n" + b"x" * 60000
    else:
        drip = b"x-slow: " + b"a" * 60000
    while loop.time() < stop:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(local, 0))
        except OSError:
            counts["connection_errors"] += 1
            await asyncio.sleep(1)
            continue
        try:
            writer.write(head)
            for byte in drip:
                if loop.time() >= stop:
                    break
                writer.write(bytes([byte]))
                await writer.drain()
                try:
                    data = await asyncio.wait_for(reader.read(4096), 1.0)
                except TimeoutError:
                    continue
                counts["slow_cut_off" if not data else f"slow_{data[9:12].decode()}"] += 1
                break
        except (OSError, asyncio.IncompleteReadError):
            counts["slow_cut_off"] += 1
        finally:
            writer.close()


async def flood(port: int, duration: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    stop = loop.time() + duration
    bodies = bad_bodies()
    oversized = b"POST /add-checkpoint HTTP/1.1\r\nhost: w\r\ncontent-length: 1048576\r\n\r\n"
    kinds = {
        "bad_signature": post(bodies["bad_signature"]),
        "unknown_origin": post(bodies["unknown_origin"]),
        "oversized": oversized,
    }
    rate = 10 * LIMITS["client_requests_per_second"] / CONNECTIONS_PER_ADDRESS
    counts: dict[str, Counter[str]] = {k: Counter() for k in [*kinds, "slow"]}
    tasks = []
    for i, address in enumerate(FLOOD_ADDRESSES[:6]):
        kind = list(kinds)[i // 2]
        for _ in range(CONNECTIONS_PER_ADDRESS):
            tasks.append(flood_requests(port, address, kinds[kind], rate, stop, counts[kind]))
    slow = 10 * LIMITS["max_inflight"]
    for j in range(slow):
        address = FLOOD_ADDRESSES[6 + j % 2]
        tasks.append(slow_sender(port, address, j % 2 == 1, stop, counts["slow"]))
    await asyncio.gather(*tasks)
    return {k: dict(v) for k, v in counts.items()} | {"slow_connections": slow}


def run_flooder(url: str, duration: float) -> subprocess.Popen[bytes]:
    argv = [sys.executable, __file__, "--flooder", "--url", url, "--duration", str(duration)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE)


# --- the report ----------------------------------------------------------------------------


def metrics(port: int) -> str:
    async def get() -> str:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, local_addr=(METRICS_ADDRESS, 0)
        )
        writer.write(b"GET /metrics HTTP/1.1\r\nhost: w\r\nconnection: close\r\n\r\n")
        data = await reader.read()
        writer.close()
        return data.split(b"\r\n\r\n", 1)[1].decode()

    return asyncio.run(get())


def counters(text: str, name: str) -> dict[str, float]:
    out = {}
    for m in re.finditer(rf"^{name}_total\{{(.*?)\}} (\S+)$", text, re.M):
        out[m[1]] = float(m[2])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per phase")
    parser.add_argument("--interval", type=float, default=0.1, help="good log: seconds/advance")
    parser.add_argument("--flooder", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flooder:
        port = urlsplit(args.url).port
        print(json.dumps(asyncio.run(flood(port, args.duration))))
        return

    per_phase = int(args.duration / args.interval) + 10
    bodies = good_bodies(2 * per_phase)
    with tempfile.TemporaryDirectory() as tmp, witness_daemon(write_witness(Path(tmp))) as ready:
        port = urlsplit(ready["url"]).port
        assert port is not None
        pid = ready["pid"]
        cpu, t = cpu_seconds(pid), time.perf_counter()
        unloaded = asyncio.run(good_client(port, bodies, args.interval, args.duration))
        busy = [(cpu_seconds(pid) - cpu) / (time.perf_counter() - t)]
        flooder = run_flooder(ready["url"], args.duration + 2)
        time.sleep(1.0)  # let the flood ramp up before timing
        cpu, t = cpu_seconds(pid), time.perf_counter()
        loaded = asyncio.run(good_client(port, bodies, args.interval, args.duration))
        busy.append((cpu_seconds(pid) - cpu) / (time.perf_counter() - t))
        out, _ = flooder.communicate(timeout=args.duration + 120)
        try:
            text = metrics(port)
        except OSError as e:
            log = (Path(tmp) / "stderr.log").read_text()[-3000:]
            problem = f"cannot read the witness's metrics ({e}); its stderr:\n{log}"
            raise SystemExit(problem) from None
    flood_counts = json.loads(out)
    print(f"witness flood bench ({os.cpu_count()} cores; limits {json.dumps(LIMITS)})")
    print(f"well-behaved log, one advance per {args.interval * 1000:.0f} ms (cosign latency, ms):")
    for name, lat, used in (("unloaded", unloaded, busy[0]), ("under flood", loaded, busy[1])):
        print(
            f"  {name:12} n={len(lat):4}  p50 {percentile(lat, 50):6.2f}  "
            f"p99 {percentile(lat, 99):6.2f}  max {max(lat):6.2f}   witness CPU {used:4.0%}"
        )
    target = 10 * LIMITS["client_requests_per_second"]
    print(
        f"flood from a separate process, {args.duration + 2:g} s, 2 addresses per kind, "
        f"target {target} req/s per address (10 x the per-client limit):"
    )
    for kind, c in flood_counts.items():
        if kind == "slow_connections":
            continue
        offered = c.get("offered")
        per = offered / (args.duration + 2) / 2 if offered else 0
        rate = f"{per:5.0f} req/s offered per address, " if offered else ""
        answered = {k: v for k, v in c.items() if k != "offered"}
        print(f"  {kind:15} {rate}{answered}")
    print(f"  slow senders: {flood_counts['slow_connections']} connections")
    print("witness_limited_requests_total:", counters(text, "witness_limited_requests"))
    print("witness_rejections_total:", counters(text, "witness_rejections"))


if __name__ == "__main__":
    main()
