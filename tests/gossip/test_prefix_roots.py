"""Every ledger kind gives gossip the root of any prefix of a larger tree (`tree_root`).

gossip.proofs.LedgerProofs.prefix_root asks the log's source for it: without it, a fork
seen from a power-of-two size can only be reported as a suspicion. Real servers on
127.0.0.1: the reference log's RFC 6962 API, a static-ct-api directory, the local SCITT
service and a synthetic CCF ledger.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import httpx
import hypercorn.trio
import trio
from hypercorn.config import Config

from tests.gossip.test_ccf_fork import published
from tests.monitor.helpers import static_server
from tests.tlog.ccf.synth import LedgerWriter, Service
from tests.tlog.ct.helpers import ct_signer, write_static_ct
from tests.tlog.ct.test_clients import add, ct_log, entries
from tests.tlog.scitt import builders as b
from tests.tlog.scitt.scitt_service import ScittService
from tlog.ccf.heads import service_verifier
from tlog.keys import parse_vkey
from tlog.ledger import LedgerSource, open_source
from tlog.merkle import CCF, RFC6962, MemoryTree

SIZES = [(1, 33), (8, 33), (16, 33), (21, 33), (32, 33), (33, 33)]


async def check(source: LedgerSource, tree: MemoryTree) -> None:
    for size, tree_size in SIZES:
        got = await source.tree_root(size, tree_size)
        assert got == tree.root(size), (size, tree_size)
    assert await source.tree_root(0, 33) == source.hash_rule.empty


async def test_ct_api(tmp_path: Path) -> None:
    log = entries(33)
    async with ct_log(tmp_path) as served, httpx.AsyncClient() as http:
        await add(http, served.url, [e.leaf for e in log])
        source = open_source("ct", served.url, [parse_vkey(served.listening["ct_vkey"])], http)
        with trio.fail_after(60):  # the log publishes in batches
            while (await source.fetch_checkpoint()).checkpoint.size < 33:
                await trio.sleep(0.05)
        await check(source, MemoryTree(RFC6962.leaf(e.leaf) for e in log))


async def test_static_ct(tmp_path: Path) -> None:
    signer, log = ct_signer("ct.test/static"), entries(33)
    write_static_ct(tmp_path / "static", signer, log)
    async with static_server(tmp_path / "static") as url, httpx.AsyncClient() as http:
        source = open_source("static-ct", url, [signer.verifier()], http)
        await check(source, MemoryTree(RFC6962.leaf(e.leaf) for e in log))


async def test_scitt(nursery: trio.Nursery) -> None:
    service = ScittService(b.signer(-7))
    for i in range(33):
        service.register(b.statement(b.signer(-8), b"artifact %d" % i))
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    service.url = (await nursery.start(partial(hypercorn.trio.serve, service.app(), config)))[0]
    async with httpx.AsyncClient() as http:
        source = open_source("scitt", service.url, [b.root_verifier(service.signer)], http)
        await check(source, service.tree)


async def test_ccf(tmp_path: Path) -> None:
    origin = "prefix.ccf.example"
    service = Service(origin)
    writer = LedgerWriter(service)
    for i in range(31):
        writer.write(b"k%d" % i, b"v")
    writer.sign()  # seqno 33: the tree of 33 leaves
    vkey = service_verifier(origin, service.service_cert)
    async with published(tmp_path / "ccf", writer) as url, httpx.AsyncClient() as http:
        source = open_source("ccf", url, [vkey], http)
        assert (await source.fetch_checkpoint()).checkpoint.size == 33
        assert source.hash_rule is CCF
        await check(source, writer.tree)
