"""CcfLedgerSource against the real ledgers served over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections import Counter
from functools import partial

import hypercorn.trio
import pytest
import trio
from hypercorn.config import Config
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.tlog.ccf.vectors import chunk_files, expected_roots
from tlog.ccf.chunk import chunk_name, encode_chunk, parse_chunk
from tlog.ccf.errors import CcfError, NoSignedHeadError
from tlog.ccf.heads import service_verifier
from tlog.ccf.source import INDEX, CcfLedgerSource
from tlog.ccf.verify import verify_chunks
from tlog.errors import CheckpointError, NoteError
from tlog.keys import generate_signer
from tlog.ledger import LedgerSource, open_source
from tlog.merkle import CCF, verify_consistency, verify_inclusion

ORIGIN = "cts-canary.confidential-ledger.azure.com"
CANARY = verify_chunks(chunk_files("cts-canary"))
VKEY = service_verifier(ORIGIN, CANARY.service_cert)


class LedgerServer:
    """Serves chunk files and the index from a dict the test changes as it goes."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.hits: Counter[str] = Counter()
        self.url = ""

    def publish(self, chunks: list[tuple[str, bytes]]) -> None:
        for name, data in chunks:
            self.files[name] = data
        self.files[INDEX] = "".join(f"{n}\n" for n, _ in chunks).encode()

    async def handle(self, request: Request) -> Response:
        path = request.url.path.removeprefix("/")
        self.hits[path] += 1
        if path not in self.files:
            return Response(b"not found", 404)
        return Response(self.files[path])


@pytest.fixture
async def server(nursery: trio.Nursery) -> LedgerServer:
    srv = LedgerServer()
    app = Starlette(routes=[Route("/{path:path}", srv.handle)])
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    binds = await nursery.start(partial(hypercorn.trio.serve, app, config))
    srv.url = binds[0]
    return srv


def _split_canary() -> list[tuple[str, bytes]]:
    """The canary chunk re-cut into 1-7 and 8-14: same transactions, two files."""
    (name, data) = chunk_files("cts-canary")[0]
    raws = [t.raw for t in parse_chunk(data, name).transactions]
    return [
        (chunk_name(1, 7), encode_chunk(raws[:7])),
        (chunk_name(8, 14), encode_chunk(raws[7:])),
    ]


async def test_follows_a_growing_ledger(server: LedgerServer) -> None:
    first, second = _split_canary()
    server.publish([first])
    source = open_source("ccf", server.url, [VKEY])
    assert isinstance(source, LedgerSource) and isinstance(source, CcfLedgerSource)
    try:
        cp7 = (await source.fetch_checkpoint()).checkpoint
        assert (cp7.origin, cp7.size, cp7.root.hex()) == (
            ORIGIN,
            7,
            expected_roots("cts-canary")[7],
        )
        server.publish([first, second])
        cp14 = (await source.fetch_checkpoint()).checkpoint
        assert (cp14.size, cp14.root.hex()) == (14, expected_roots("cts-canary")[14])
        proof = await source.consistency_proof(7, 14)
        verify_consistency(7, 14, cp7.root, cp14.root, proof, CCF)
        for i in range(14):
            path = await source.inclusion_proof(i, 14)
            leaf = CANARY.tree.node_hash(0, i)
            verify_inclusion(leaf, i, 14, path, cp14.root, CCF)
        leaves = [e async for e in source.entries(0, 14)]
        assert leaves[0] == bytes(32)
        assert [source.leaf_hash(e) for e in leaves] == leaves
        assert leaves == [CANARY.tree.node_hash(0, i) for i in range(14)]
        await source.fetch_checkpoint()
        assert server.hits[first[0]] == 1 and server.hits[second[0]] == 1
    finally:
        await source.aclose()


async def test_wrong_service_key_is_refused(server: LedgerServer) -> None:
    server.publish(chunk_files("cts-canary"))
    sgx = verify_chunks(chunk_files("sgx-service"))
    wrong = service_verifier(ORIGIN, sgx.service_cert)
    async with CcfLedgerSource(server.url, [wrong]) as source:
        with pytest.raises(NoteError):
            await source.fetch_checkpoint()


async def test_old_ledger_says_why_there_is_no_head(server: LedgerServer) -> None:
    server.publish(chunk_files("expired-service"))
    async with CcfLedgerSource(server.url, [VKEY]) as source:
        with pytest.raises(NoSignedHeadError, match="COSE root signature"):
            await source.fetch_checkpoint()
        # The ledger itself verified: proofs between its node-signed roots are available.
        assert len(await source.consistency_proof(15, 26)) == 6


async def test_tampered_chunk_is_refused_with_its_seqno(server: LedgerServer) -> None:
    name, data = chunk_files("cts-canary")[0]
    tx = parse_chunk(data, name).transactions[4]
    bad = bytearray(data)
    bad[tx.offset + 60] ^= 1
    server.publish([(name, bytes(bad))])
    async with CcfLedgerSource(server.url, [VKEY]) as source:
        with pytest.raises(CcfError, match="seqno 5"):
            await source.fetch_checkpoint()


async def test_bad_index_and_missing_vkey(server: LedgerServer) -> None:
    server.files[INDEX] = b"ledger_1-14.committed\n../etc/passwd\n"
    async with CcfLedgerSource(server.url, [VKEY]) as source:
        with pytest.raises(CcfError, match="line 2"):
            await source.fetch_checkpoint()
    with pytest.raises(CheckpointError, match="CCF COSE service vkey"):
        CcfLedgerSource(server.url, [generate_signer("x").verifier()])
    with pytest.raises(CheckpointError, match="origin"):
        CcfLedgerSource(server.url, [VKEY], origin="other.example")
