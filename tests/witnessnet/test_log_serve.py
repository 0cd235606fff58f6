"""`witnessnet log serve` and `witnessnet demo` end to end, as real processes on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import json
import signal
import subprocess
import sys
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import httpx
import pytest
import trio

from tlog.checkpoint import Checkpoint, open_checkpoint
from tlog.cosignature import CosignatureV1Signer
from tlog.errors import ProofError
from tlog.keys import Ed25519Signer, generate_signer
from tlog.merkle import verify_consistency, verify_inclusion
from tlog.tiles import decode_entry_bundle
from tlog.tiles_client import TiledLogClient
from witnessnet.commands.key import write_key_file
from witnessnet.demo.procs import LogProcess, log_server

ORIGIN = "test.example/log-serve"


def rfc6962_root(entries: list[bytes]) -> bytes:
    """MTH(D[n]) straight from RFC 6962 section 2.1, independent of tlog.merkle."""
    if not entries:
        return hashlib.sha256(b"").digest()
    if len(entries) == 1:
        return hashlib.sha256(b"\x00" + entries[0]).digest()
    k = 1 << ((len(entries) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + rfc6962_root(entries[:k]) + rfc6962_root(entries[k:])).digest()


def b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


@pytest.fixture
def signer(tmp_path: Path) -> Ed25519Signer:
    s = generate_signer(ORIGIN)
    write_key_file(tmp_path / "log.key", s)
    return s


def serve(tmp_path: Path, *args: str) -> AbstractAsyncContextManager[LogProcess]:
    return log_server(tmp_path / "log", tmp_path / "log.key", ORIGIN, args)


async def add_all(http: httpx.AsyncClient, url: str, entries: list[bytes]) -> dict[bytes, int]:
    indices: dict[bytes, int] = {}

    async def add(entry: bytes) -> None:
        resp = await http.post(f"{url}/add", content=entry)
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"].startswith("text/plain")
        indices[entry] = int(resp.text)

    async with trio.open_nursery() as nursery:
        for entry in entries:
            nursery.start_soon(add, entry)
    return indices


def run_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "witnessnet", *args]
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=30)


async def test_serves_a_log_that_verifies_independently(
    tmp_path: Path, signer: Ed25519Signer
) -> None:
    entries = [f"entry {i}".encode() * (i % 7 + 1) for i in range(300)]
    async with (
        serve(tmp_path, "--batch-interval", "0.02") as log,
        httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=32)) as http,
    ):
        assert log.vkey == signer.vkey()
        indices = await add_all(http, log.url, entries)
        assert sorted(indices.values()) == list(range(300))

        resp = await http.get(f"{log.url}/checkpoint")
        assert resp.headers["content-type"] == "text/plain; charset=utf-8"
        assert resp.headers["cache-control"] == "no-store"
        cp = open_checkpoint(resp.content, [signer.verifier()]).checkpoint
        assert (cp.origin, cp.size) == (ORIGIN, 300)

        full = await http.get(f"{log.url}/tile/entries/000")
        partial_ = await http.get(f"{log.url}/tile/entries/001.p/44")
        assert full.headers["content-type"] == "application/octet-stream"
        assert full.headers["content-encoding"] == "gzip"
        assert "immutable" in full.headers["cache-control"]
        assert "immutable" not in partial_.headers["cache-control"]
        logged = decode_entry_bundle(full.content, 256) + decode_entry_bundle(partial_.content, 44)
        assert logged == sorted(entries, key=indices.__getitem__)
        assert rfc6962_root(logged) == cp.root

        level0 = (await http.get(f"{log.url}/tile/0/000")).content
        level0 += (await http.get(f"{log.url}/tile/0/001.p/44")).content
        leaves = [level0[i : i + 32] for i in range(0, len(level0), 32)]
        assert leaves == [hashlib.sha256(b"\x00" + e).digest() for e in logged]
        level1 = (await http.get(f"{log.url}/tile/1/000.p/1")).content
        assert level1 == rfc6962_root(logged[:256]), "a level-1 hash is the MTH of a full tile"

        for missing in ("tile/0/001", "tile/0/001.p/45", "tile/2/000.p/1", "tile/0/01", "x"):
            assert (await http.get(f"{log.url}/{missing}")).status_code == 404, missing

        client = TiledLogClient(log.url, [signer.verifier()], http)
        for index in range(0, 300, 7):
            proof = await client.inclusion_proof(index, cp.size)
            leaf = hashlib.sha256(b"\x00" + logged[index]).digest()
            verify_inclusion(leaf, index, 300, proof, cp.root)
        for index, entry, status in ((0, logged[0], 0), (256, logged[256], 0), (299, b"x", 1)):
            proof = await client.inclusion_proof(index, cp.size)
            result = run_cli(
                "proof", "inclusion", "--size", "300", "--root", b64(cp.root),
                "--index", str(index), "--leaf-hash", b64(hashlib.sha256(b"\x00" + entry).digest()),
                stdin="".join(b64(h) + "\n" for h in proof),
            )  # fmt: skip
            assert result.returncode == status, result.stderr
            assert result.stdout == ("valid\n" if status == 0 else "")


async def test_add_limits(tmp_path: Path, signer: Ed25519Signer) -> None:
    args = ("--batch-interval", "2", "--max-pending", "2")
    async with serve(tmp_path, *args) as log, httpx.AsyncClient(timeout=10) as http:
        assert (await http.post(f"{log.url}/add", content=b"x" * 65536)).status_code == 413
        assert (await http.post(f"{log.url}/add", content=b"")).status_code == 400
        assert (await http.get(f"{log.url}/add")).status_code == 405
        answers: list[httpx.Response] = []

        async def add(entry: bytes) -> None:
            answers.append(await http.post(f"{log.url}/add", content=entry))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(add, b"y" * 65535)
            nursery.start_soon(add, b"z")
            await trio.sleep(0.5)
            full = await http.post(f"{log.url}/add", content=b"too many")
            assert full.status_code == 503
            assert full.headers["retry-after"] == "1"
        assert sorted(r.text for r in answers) == ["0\n", "1\n"]


async def test_restart_continues_and_sigterm_answers_the_requests_in_flight(
    tmp_path: Path, signer: Ed25519Signer
) -> None:
    async with serve(tmp_path, "--batch-interval", "0.02") as log, httpx.AsyncClient() as http:
        await add_all(http, log.url, [f"first {i}".encode() for i in range(10)])
    assert log.process.returncode == 0
    async with serve(tmp_path, "--batch-interval", "2") as log:
        assert log.listening["size"] == 10
        async with httpx.AsyncClient(timeout=10) as http:
            async with trio.open_nursery() as nursery:
                answer: list[httpx.Response] = []

                async def add() -> None:
                    answer.append(await http.post(f"{log.url}/add", content=b"in flight"))

                nursery.start_soon(add)
                await trio.sleep(0.5)
                log.process.send_signal(signal.SIGTERM)
            assert answer[0].text == "10\n"
        assert await log.process.wait() == 0


async def published_checkpoint(
    http: httpx.AsyncClient, url: str, signer: Ed25519Signer
) -> Checkpoint:
    resp = await http.get(f"{url}/checkpoint")
    return open_checkpoint(resp.content, [signer.verifier()]).checkpoint


async def test_fork_drill_serves_two_inconsistent_checkpoints(
    tmp_path: Path, signer: Ed25519Signer
) -> None:
    args = ("--batch-interval", "0.02", "--fork-at", "5", "--fork-listen", "127.0.0.1:0")
    async with serve(tmp_path, *args) as log, httpx.AsyncClient(timeout=10) as http:
        fork_url = log.fork_url
        assert log.listening["fork_at"] == 5
        early = await http.post(f"{fork_url}/add", content=b"too early")
        assert early.status_code == 503 and "diverged" in early.text
        await add_all(http, log.url, [f"e{i}".encode() for i in range(8)])
        with trio.fail_after(5):
            while (await published_checkpoint(http, fork_url, signer)).size < 8:
                await trio.sleep(0.02)
        assert (await http.post(f"{fork_url}/add", content=b"fork only")).text == "8\n"
        main = await published_checkpoint(http, log.url, signer)
        fork = await published_checkpoint(http, fork_url, signer)
        assert (main.origin, main.size, fork.origin, fork.size) == (ORIGIN, 8, ORIGIN, 9)

        main_client = TiledLogClient(log.url, [signer.verifier()], http)
        fork_client = TiledLogClient(fork_url, [signer.verifier()], http)
        assert await main_client.tree_root(5, 8) == await fork_client.tree_root(5, 9)
        assert await main_client.tree_root(6, 8) != await fork_client.tree_root(6, 9)
        logged = [e async for e in main_client.entries(0, 8)]
        forked = [e async for e in fork_client.entries(0, 9)]
        assert forked == [*logged[:5], *(b"fork:" + e for e in logged[5:]), b"fork only"]

        proof = await fork_client.consistency_proof(8, 9)
        with pytest.raises(ProofError):
            verify_consistency(8, 9, main.root, fork.root, proof)
        result = run_cli(
            "proof", "consistency", "--old-size", "8", "--old-root", b64(main.root),
            "--new-size", "9", "--new-root", b64(fork.root),
            stdin="".join(b64(h) + "\n" for h in proof),
        )  # fmt: skip
        assert result.returncode == 1 and result.stdout == ""


def test_listening_line_and_bad_arguments(tmp_path: Path, signer: Ed25519Signer) -> None:
    result = run_cli("log", "serve", "--dir", str(tmp_path), "--key", str(tmp_path / "log.key"),
                     "--origin", ORIGIN, "--listen", "localhost")  # fmt: skip
    assert result.returncode == 2 and "HOST:PORT" in result.stderr
    other = tmp_path / "other.key"
    write_key_file(other, generate_signer(ORIGIN))
    (tmp_path / "log").mkdir()
    args = ["log", "serve", "--dir", str(tmp_path / "log"), "--origin", ORIGIN,
            "--listen", "127.0.0.1:0"]  # fmt: skip
    command = [sys.executable, "-m", "witnessnet", *args, "--key", str(tmp_path / "log.key")]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as p:
        line = json.loads(p.stdout.readline())
        assert line["event"] == "listening" and line["url"].startswith("http://127.0.0.1:")
        assert not line["url"].endswith(":0")
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=10) == 0
        assert all(json.loads(x)["level"] for x in p.stderr.read().decode().splitlines())
    result = run_cli(*args, "--key", str(other))
    assert result.returncode == 1 and "not this log's" in result.stderr


def test_witness_arguments_pair_up(tmp_path: Path, signer: Ed25519Signer) -> None:
    args = ["log", "serve", "--dir", str(tmp_path / "log"), "--key", str(tmp_path / "log.key"),
            "--origin", ORIGIN, "--listen", "127.0.0.1:0"]  # fmt: skip
    witness_vkey = CosignatureV1Signer(generate_signer("example.com/witness")).vkey()
    cases = [
        (["--witness", "http://127.0.0.1:1"], "1 --witness but 0 --witness-vkey"),
        (["--witness", "http://w", "--witness-vkey", "nope"], "--witness-vkey: "),
        (["--witness", "w.example", "--witness-vkey", witness_vkey], "http(s) URL"),
        (["--witness-timeout", "0"], "number of seconds"),
    ]
    for extra, message in cases:
        result = run_cli(*args, *extra)
        assert result.returncode == 2 and message in result.stderr, (extra, result.stderr)
    assert not (tmp_path / "log").exists()
