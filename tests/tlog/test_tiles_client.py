"""TiledLogClient against the reference log (a real `witnessnet log serve` process) and
against a misbehaving log (a real HTTP server on 127.0.0.1 that answers badly on purpose)."""

from __future__ import annotations

import socket
from collections import Counter
from functools import partial
from pathlib import Path

import httpx
import hypercorn.trio
import pytest
import trio
from hypercorn.config import Config
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tlog.checkpoint import Checkpoint, SignedCheckpoint
from tlog.errors import CheckpointError, MalformedNoteError, TileError, UnverifiedNoteError
from tlog.keys import generate_signer
from tlog.merkle import RFC6962, MemoryTree, verify_consistency, verify_inclusion
from tlog.note import sign_note
from tlog.tiles import (
    EntriesRef,
    encode_entry_bundle,
    tile_hashes_for_tree,
    tiles_needed_for_inclusion,
)
from tlog.tiles_client import (
    LogStatusError,
    LogUnavailableError,
    TiledLogClient,
)
from witnessnet.commands.key import write_key_file
from witnessnet.demo.procs import log_server

ORIGIN = "test.example/tiles-client"


async def test_proofs_roots_and_entries_from_the_reference_log(tmp_path: Path) -> None:
    signer = generate_signer(ORIGIN)
    write_key_file(tmp_path / "log.key", signer)
    entries: list[bytes] = [b""] * 600
    checkpoints: dict[int, SignedCheckpoint] = {}
    args = ["--batch-interval", "0.02"]
    async with (
        log_server(tmp_path / "log", tmp_path / "log.key", ORIGIN, args) as log,
        httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=32)) as http,
    ):
        client = TiledLogClient(log.url, [signer.verifier()], http, origin=ORIGIN)

        async def add(entry: bytes) -> None:
            resp = await http.post(f"{log.url}/add", content=entry)
            entries[int(resp.text)] = entry

        done = 0
        for size in (1, 100, 256, 300, 513, 600):
            async with trio.open_nursery() as nursery:
                for i in range(done, size):
                    nursery.start_soon(add, f"entry {i}".encode())
            done = size
            checkpoints[size] = await client.fetch_checkpoint()
        tree = MemoryTree(RFC6962.leaf(e) for e in entries)
        assert [e async for e in client.entries(0, 600)] == entries
        assert [e async for e in client.entries(250, 520, 600)] == entries[250:520]
        assert [e async for e in client.entries(3, 90, 100)] == entries[3:90]

        sizes = sorted(checkpoints)
        for size in sizes:
            cp = checkpoints[size].checkpoint
            assert cp == Checkpoint(ORIGIN, size, tree.root(size))
            assert await client.tree_root(size) == cp.root
            assert await client.tree_root(size, 600) == cp.root
            for index in {0, size // 2, size - 1}:
                proof = await client.inclusion_proof(index, size)
                assert proof == tree.inclusion_proof(index, size)
                assert await client.inclusion_proof(index, size, 600) == proof
                verify_inclusion(RFC6962.leaf(entries[index]), index, size, proof, cp.root)
            for old in sizes[: sizes.index(size)]:
                proof = await client.consistency_proof(old, size)
                assert proof == tree.consistency_proof(old, size)
                assert await client.consistency_proof(old, size, 600) == proof
                verify_consistency(old, size, tree.root(old), cp.root, proof)


class FakeLog:
    """A tiled log of 300 entries served over real HTTP, with per-path misbehaviour."""

    def __init__(self) -> None:
        self.signer = generate_signer(ORIGIN)
        self.entries = [f"fake {i}".encode() for i in range(300)]
        self.tree = MemoryTree(RFC6962.leaf(e) for e in self.entries)
        cp = Checkpoint(ORIGIN, 300, self.tree.root())
        self.files = {ref.path: data for ref, data in tile_hashes_for_tree(self.tree, 300).items()}
        for n, width in ((0, 256), (1, 44), (0, 100)):
            chunk = self.entries[n * 256 : n * 256 + width]
            self.files[EntriesRef(n, width).path] = encode_entry_bundle(chunk)
        self.files["checkpoint"] = sign_note(cp.body(), [self.signer]).to_bytes()
        self.statuses: dict[str, list[int]] = {}
        self.hang: set[str] = set()
        self.hits: Counter[str] = Counter()
        self.url = ""

    async def handle(self, request: Request) -> Response:
        path = request.url.path.removeprefix("/")
        self.hits[path] += 1
        if path in self.hang:
            await trio.sleep_forever()
        if self.statuses.get(path):
            return Response(b"try again", self.statuses[path].pop(0))
        if path not in self.files:
            return Response(b"not found", 404)
        return Response(self.files[path])

    def client(self, **kwargs: float) -> TiledLogClient:
        return TiledLogClient(self.url, [self.signer.verifier()], origin=ORIGIN, **kwargs)


@pytest.fixture
async def fake(nursery: trio.Nursery) -> FakeLog:
    log = FakeLog()
    app = Starlette(routes=[Route("/{path:path}", log.handle)])
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    binds = await nursery.start(partial(hypercorn.trio.serve, app, config))
    log.url = binds[0]
    return log


async def test_fetches_exactly_the_tiles_it_needs(fake: FakeLog) -> None:
    async with fake.client() as client:
        proof = await client.inclusion_proof(7, 300)
    assert proof == fake.tree.inclusion_proof(7, 300)
    assert set(fake.hits) == {ref.path for ref in tiles_needed_for_inclusion(7, 300)}


async def test_missing_partials_are_replaced_by_full_ones(fake: FakeLog) -> None:
    async with fake.client() as client:
        assert await client.tree_root(100) == fake.tree.root(100)
        assert [e async for e in client.entries(0, 100)] == fake.entries[:100]
    assert fake.hits["tile/0/000.p/100"] == 1 and fake.hits["tile/0/000"] == 1


async def test_retries_server_errors_then_succeeds(fake: FakeLog) -> None:
    fake.statuses["checkpoint"] = [503, 500]
    async with fake.client(backoff=0.01) as client:
        signed = await client.fetch_checkpoint()
    assert signed.checkpoint.size == 300
    assert fake.hits["checkpoint"] == 3


async def test_gives_up_after_retries(fake: FakeLog) -> None:
    fake.statuses["tile/0/001.p/44"] = [502] * 10
    async with fake.client(backoff=0.01, retries=2) as client:
        with pytest.raises(LogStatusError) as e:
            await client.tree_root(300)
    assert e.value.status == 502
    assert fake.hits["tile/0/001.p/44"] == 3


async def test_client_errors_are_not_retried(fake: FakeLog) -> None:
    fake.statuses["checkpoint"] = [403]
    async with fake.client() as client:
        with pytest.raises(LogStatusError, match="403"):
            await client.fetch_checkpoint()
    assert fake.hits["checkpoint"] == 1


async def test_a_hanging_log_times_out(fake: FakeLog) -> None:
    fake.hang.add("tile/0/000")
    async with fake.client(timeout=0.2, retries=1, backoff=0.01) as client:
        with trio.fail_after(5), pytest.raises(LogUnavailableError, match="within"):
            await client.inclusion_proof(3, 300)
    assert fake.hits["tile/0/000"] == 2


async def test_short_and_truncated_tiles_are_rejected(fake: FakeLog) -> None:
    fake.files["tile/0/001.p/44"] = fake.files["tile/0/001.p/44"][:-1]
    bundle = fake.files["tile/entries/001.p/44"]
    async with fake.client() as client:
        with pytest.raises(TileError, match="1407 bytes, want 1408"):
            await client.tree_root(300)
        fake.files["tile/entries/001.p/44"] = bundle[:-3]
        with pytest.raises(TileError, match="truncated"):
            _ = [e async for e in client.entries(280, 300)]
        fake.files["tile/entries/001.p/44"] = bundle + b"\x00\x01x"
        with pytest.raises(TileError, match="more than 44 entries"):
            _ = [e async for e in client.entries(280, 300)]


async def test_checkpoints_must_be_signed_by_the_log_for_its_origin(fake: FakeLog) -> None:
    other = generate_signer(ORIGIN)
    async with TiledLogClient(fake.url, [other.verifier()]) as client:
        with pytest.raises(UnverifiedNoteError):
            await client.fetch_checkpoint()
    async with TiledLogClient(fake.url, [fake.signer.verifier()], origin="x/y") as client:
        with pytest.raises(CheckpointError, match="origin"):
            await client.fetch_checkpoint()
    fake.files["checkpoint"] = b"x" * (2 << 20)
    async with fake.client() as client:
        with pytest.raises(MalformedNoteError, match="over"):
            await client.fetch_checkpoint()


async def test_an_unreachable_log_is_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = TiledLogClient(f"http://127.0.0.1:{port}", [], retries=1, backoff=0.01)
    async with client:
        with pytest.raises(LogUnavailableError, match="ConnectError"):
            await client.fetch_checkpoint()
