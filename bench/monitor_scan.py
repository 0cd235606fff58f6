"""Benchmark the monitor's audit against the physical limits measured in the same run.

Builds a log of --entries entries (default 1,000,000) in a temporary directory with
the tlog-tiles writer, serves it on 127.0.0.1 from a child process, and prints:

- entries/s for the full audit by `monitor scan`'s code path (fetch the entry
  bundles, gunzip, hash every entry, rebuild the tree, check it against the signed
  root and the log's tiles after every batch, commit the cursor), beside the raw
  hashlib rate for the same hashing (leaf and interior hashes of the same entries,
  in memory, in a tight loop);
- the same audit against `witnessnet log serve` (the reference log, which gzips
  each bundle per request), for comparison;
- claims/s for a log of --claims signed firmware manifests (fetch, hash, parse the
  signed note and its JSON, verify the Ed25519 signature, apply the rules, commit),
  and claims/s for the claim checks alone, beside the raw Ed25519 verify rate.

The static server (`--serve DIR`) holds every file in memory with bundles gzipped
once, as a CDN in front of a tiled log would.

Usage: python bench/monitor_scan.py [--entries N] [--claims N] [--connections N]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import trio

from monitor.claims import CLAIM_TYPES
from monitor.claims.firmware import manifest_json
from monitor.config import LogConfig, MonitorConfig
from monitor.progress import LogProgress
from monitor.rules import Rules, Signers, check_entry
from monitor.service import Monitor
from monitor.store import Store
from tlog.checkpoint import Checkpoint
from tlog.keys import Ed25519Signer
from tlog.merkle import RFC6962, MemoryTree
from tlog.note import sign_note
from tlog.tiles import TILE_WIDTH, EntriesRef, encode_entry_bundle, tile_hashes_for_tree
from witnessnet.commands.key import write_key_file
from witnessnet.demo.procs import log_server

ORIGIN = "bench.example/log"
LOG_KEY = Ed25519Signer(ORIGIN, hashlib.sha256(b"bench log key").digest())
PUBLISHER = Ed25519Signer("bench.example/firmware", hashlib.sha256(b"bench publisher").digest())


def build(directory: Path, entries: list[bytes]) -> None:
    """Write a tlog-tiles log holding entries: tiles, bundles and a signed checkpoint."""
    tree = MemoryTree(RFC6962.leaf(e) for e in entries)
    files = {ref.path: data for ref, data in tile_hashes_for_tree(tree, len(entries)).items()}
    for start in range(0, len(entries), TILE_WIDTH):
        chunk = entries[start : start + TILE_WIDTH]
        files[EntriesRef(start // TILE_WIDTH, len(chunk)).path] = encode_entry_bundle(chunk)
    checkpoint = Checkpoint(ORIGIN, len(entries), tree.root()).body()
    files["checkpoint"] = sign_note(checkpoint, [LOG_KEY]).to_bytes()
    for path, data in files.items():
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def static_app(directory: Path) -> Any:
    """A minimal ASGI app serving directory from memory, entry bundles gzipped once."""
    files: dict[str, tuple[bytes, bool]] = {}
    for p in directory.rglob("*"):
        if p.is_file():
            rel = p.relative_to(directory).as_posix()
            bundle = rel.startswith("tile/entries/")
            data = p.read_bytes()
            files["/" + rel] = (gzip.compress(data, 6) if bundle else data, bundle)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body, gzipped = files.get(scope["path"], (b"not found\n", False))
        status = 200 if scope["path"] in files else 404
        headers = [(b"content-length", str(len(body)).encode())]
        if gzipped:
            headers.append((b"content-encoding", b"gzip"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


async def serve(directory: Path) -> None:
    import hypercorn.trio
    from hypercorn.config import Config

    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.errorlog = None
    app = static_app(directory)
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(partial(hypercorn.trio.serve, app, config))
        print(json.dumps({"url": binds[0]}), flush=True)


def start_static(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    command = [sys.executable, __file__, "--serve", str(directory)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE)
    assert process.stdout is not None
    return process, json.loads(process.stdout.readline())["url"]


async def audit(
    url: str, state: Path, claims: tuple[str, ...], rules: Rules, connections: int
) -> float:
    """Seconds `monitor scan`'s code path takes to audit the log at url from scratch."""
    log = LogConfig(
        "bench", ORIGIN, LOG_KEY.vkey(), LOG_KEY.verifier(), url,
        tuple(CLAIM_TYPES[c] for c in claims),
    )  # fmt: skip
    config = MonitorConfig(
        state, state, (log,), rules, (), batch_size=16384, connections=connections, timeout=30
    )
    store = Store(state)
    try:
        monitor = Monitor(config, store, [], LogProgress(interval=3600))
        started = time.perf_counter()
        report = await monitor.scan()
        elapsed = time.perf_counter() - started
    finally:
        store.close()
    (result,) = report.results
    assert result.error is None and result.end == result.size, result
    return elapsed


def raw_hash_seconds(entries: list[bytes]) -> float:
    """Seconds hashlib takes for the audit's hashing: every leaf, then every interior node."""
    sha = hashlib.sha256
    started = time.perf_counter()
    row = b"".join([sha(b"\x00" + e).digest() for e in entries])
    while len(row) > 32:
        odd = row[-32:] if len(row) // 32 % 2 else b""
        pairs = len(row) // 64 * 64
        row = b"".join([sha(b"\x01" + row[i : i + 64]).digest() for i in range(0, pairs, 64)]) + odd
    return time.perf_counter() - started


def firmware_claims(n: int) -> list[bytes]:
    out = []
    for i in range(n):
        digest = hashlib.sha256(b"firmware %d" % i).digest()
        text = manifest_json("TRUSTED_OS", f"1.{i}.0", f"{i:040x}", digest)
        out.append(sign_note(text, [PUBLISHER]).to_bytes())
    return out


def raw_verify_rate(claims: list[bytes]) -> float:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PublicKey.from_public_bytes(PUBLISHER.public)
    texts = [c.split(b"\n\n\xe2\x80\x94")[0] + b"\n" for c in claims]
    sigs = [PUBLISHER.sign(t) for t in texts]
    started = time.perf_counter()
    for t, s in zip(texts, sigs, strict=True):
        key.verify(s, t)
    return len(texts) / (time.perf_counter() - started)


def check_rate(claims: list[bytes], rules: Rules) -> float:
    class Memory(dict[tuple[str, str], Any]):
        def recall(self, kind: str, key: str) -> Any:
            return self.get((kind, key))

        def remember(self, kind: str, key: str, item: Any) -> None:
            self[(kind, key)] = item

    types, memory = [CLAIM_TYPES["firmware"]], Memory()
    started = time.perf_counter()
    for i, entry in enumerate(claims):
        assert not check_entry(entry, i, types, rules, memory)
    return len(claims) / (time.perf_counter() - started)


async def run(args: argparse.Namespace) -> None:
    n, c = args.entries, args.claims
    rules = Rules(components={"TRUSTED_OS": Signers("TRUSTED_OS", (PUBLISHER.verifier(),))})
    with tempfile.TemporaryDirectory(prefix="witnessnet-bench-") as tmp:
        root = Path(tmp)
        entries = [
            b"entry %09d: a log entry of typical small size, ~64 bytes" % i for i in range(n)
        ]
        started = time.perf_counter()
        build(root / "log", entries)
        print(f"built a log of {n:,} entries in {time.perf_counter() - started:.1f} s")
        raw = n / raw_hash_seconds(entries)

        server, url = start_static(root / "log")
        try:
            seconds = await audit(url, root / "static.db", (), rules, args.connections)
        finally:
            server.kill()
        print(f"raw hashlib, same hashing (leaves + tree):   {raw:12,.0f} entries/s   <- limit")
        print(
            f"full audit, static server:                 {n / seconds:12,.0f} entries/s   "
            f"({seconds:.2f} s, {100 * n / seconds / raw:.0f}% of raw hashing)"
        )
        write_key_file(root / "log.key", LOG_KEY)
        async with log_server(root / "log", root / "log.key", ORIGIN) as reference:
            seconds = await audit(reference.url, root / "reference.db", (), rules, args.connections)
        print(
            f"full audit, witnessnet log serve:          {n / seconds:12,.0f} entries/s   "
            f"({seconds:.2f} s; the server gzips every bundle per request)"
        )

        claims = firmware_claims(c)
        build(root / "claims", claims)
        raw_verify = raw_verify_rate(claims[:20_000])
        checks = check_rate(claims, rules)
        server, url = start_static(root / "claims")
        try:
            seconds = await audit(url, root / "claims.db", ("firmware",), rules, args.connections)
        finally:
            server.kill()
        print(
            f"raw Ed25519 verify:                          {raw_verify:12,.0f} verifies/s  <- limit"
        )
        print(
            f"claim checks (parse, verify, rules):         {checks:12,.0f} claims/s    "
            f"({100 * checks / raw_verify:.0f}% of raw verify)"
        )
        print(
            f"claims audit, static server, {c:,} claims: {c / seconds:12,.0f} claims/s    "
            f"({100 * c / seconds / raw_verify:.0f}% of raw verify; fetch, hash, check, commit)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--claims", type=int, default=50_000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        trio.run(serve, Path(args.serve))
    else:
        trio.run(run, args)


if __name__ == "__main__":
    main()
