"""The ct and static-ct ledger sources against real local servers.

`witnessnet log serve --ct-key` serves the RFC 6962 API over the reference
log's tree (with a small get-entries batch, so the client meets short
answers); a static-ct-api directory is served by a static file server.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.monitor.helpers import static_server
from tests.tlog.ct.helpers import (
    CTEntry,
    ct_signer,
    precert_entry,
    write_ct_key,
    write_static_ct,
    x509_entry,
)
from tlog.ct.client import CTLogClient, parse_entries_json
from tlog.ct.errors import CTFormatError
from tlog.ct.leaf import parse_leaf
from tlog.ct.static_client import StaticCTClient
from tlog.errors import InvalidSignatureError, KeyMaterialError, TlogError
from tlog.keys import generate_signer, parse_vkey
from tlog.ledger import LedgerSource, open_source
from tlog.merkle import RFC6962, MemoryTree, verify_consistency, verify_inclusion
from tlog.tiles_client import LogStatusError
from witnessnet.commands.key import write_key_file
from witnessnet.demo.procs import LogProcess, log_server

ORIGIN = "ct.test/reflog"


def entries(n: int, start: int = 0) -> list[CTEntry]:
    return [
        precert_entry(i, [f"p{i}.test"]) if i % 3 == 0 else x509_entry(i, [f"h{i}.test"])
        for i in range(start, start + n)
    ]


@asynccontextmanager
async def ct_log(tmp_path: Path, max_batch: int = 7) -> AsyncIterator[LogProcess]:
    write_key_file(tmp_path / "log.key", generate_signer(ORIGIN))
    write_ct_key(tmp_path / "ct.pem")
    args = ("--ct-key", str(tmp_path / "ct.pem"), "--ct-max-batch", str(max_batch),
            "--batch-interval", "0.05")  # fmt: skip
    async with log_server(tmp_path / "log", tmp_path / "log.key", ORIGIN, args) as log:
        yield log


async def add(http: httpx.AsyncClient, url: str, leaves: list[bytes]) -> None:
    for leaf in leaves:
        resp = await http.post(f"{url}/add", content=leaf)
        assert resp.status_code == 200, resp.text


async def test_ct_api_source_reads_and_verifies_the_reference_log(tmp_path: Path) -> None:
    first, second = entries(20), entries(13, start=20)
    async with ct_log(tmp_path) as log, httpx.AsyncClient() as http:
        vkey = log.listening["ct_vkey"]
        assert vkey == ct_signer(ORIGIN).vkey()
        source = open_source("ct", log.url, [parse_vkey(vkey)], http, origin=ORIGIN)
        assert isinstance(source, LedgerSource) and source.kind == "ct"
        await add(http, log.url, [e.leaf for e in first])
        old = (await source.fetch_checkpoint()).checkpoint
        assert old.size == 20 and old.origin == ORIGIN
        await add(http, log.url, [e.leaf for e in second])
        new = (await source.fetch_checkpoint()).checkpoint
        assert new.size == 33
        proof = await source.consistency_proof(old.size, new.size)
        verify_consistency(old.size, new.size, old.root, new.root, proof)
        # 33 entries through a server that answers at most 7 per request.
        got = [e async for e in source.entries(0, new.size)]
        assert got == [e.leaf for e in first + second]
        assert MemoryTree(source.leaf_hash(e) for e in got).root() == new.root
        assert isinstance(source, CTLogClient)
        for index in (0, 19, 32):
            p = await source.inclusion_proof(index, new.size)
            verify_inclusion(RFC6962.leaf(got[index]), index, new.size, p, new.root)
        middle = [e async for e in source.entries(5, 16)]
        assert middle == got[5:16]
        assert parse_leaf(got[0]).is_precert


async def test_ct_api_source_refuses_the_wrong_key(tmp_path: Path) -> None:
    async with ct_log(tmp_path) as log, httpx.AsyncClient() as http:
        wrong = ct_signer(ORIGIN, seed=99).verifier()
        source = CTLogClient(log.url, [wrong], http)
        with pytest.raises(InvalidSignatureError):
            await source.fetch_checkpoint()
        with pytest.raises(KeyMaterialError, match="0x05"):
            CTLogClient(log.url, [generate_signer(ORIGIN).verifier()], http)
        with pytest.raises(KeyMaterialError, match="named"):
            CTLogClient(log.url, [wrong], http, origin="other")


async def test_static_ct_source_reads_data_tiles(tmp_path: Path) -> None:
    signer = ct_signer("ct.test/static")
    log = entries(520)
    directory = tmp_path / "static"
    write_static_ct(directory, signer, log[:260])
    async with static_server(directory) as url, httpx.AsyncClient() as http:
        source = open_source("static-ct", url, [signer.verifier()], http)
        assert isinstance(source, StaticCTClient)
        old = (await source.fetch_checkpoint()).checkpoint
        assert old.size == 260
        write_static_ct(directory, signer, log)
        new = (await source.fetch_checkpoint()).checkpoint
        proof = await source.consistency_proof(old.size, new.size)
        verify_consistency(old.size, new.size, old.root, new.root, proof)
        got = [e async for e in source.entries(0, new.size)]
        assert got == [e.leaf for e in log]
        assert MemoryTree(source.leaf_hash(e) for e in got).root() == new.root
        # The old tree's partial data tile (4 entries) is still served; delete it and
        # the client cuts the entries from the wider one.
        assert [e async for e in source.entries(256, 260, 260)] == got[256:260]
        (directory / "tile/data/001.p/4").unlink()
        assert [e async for e in source.entries(250, 260, 260)] == got[250:260]
        p = await source.inclusion_proof(517, new.size)
        verify_inclusion(RFC6962.leaf(got[517]), 517, new.size, p, new.root)


async def test_static_ct_source_rejects_a_bad_data_tile(tmp_path: Path) -> None:
    signer = ct_signer("ct.test/static")
    directory = tmp_path / "static"
    write_static_ct(directory, signer, entries(5))
    tile = directory / "tile/data/000.p/5"
    tile.write_bytes(tile.read_bytes()[:-1])
    async with static_server(directory) as url, httpx.AsyncClient() as http:
        source = StaticCTClient(url, [signer.verifier()], http)
        with pytest.raises(CTFormatError, match="data tile"):
            [e async for e in source.entries(0, 5)]
        (directory / "tile/data/000.p/5").unlink()
        with pytest.raises(LogStatusError, match="404"):
            [e async for e in source.entries(0, 5)]
        with pytest.raises(TlogError):
            [e async for e in source.entries(3, 9, 5)]


async def test_reference_ct_api_refuses_bad_requests(tmp_path: Path) -> None:
    async with ct_log(tmp_path) as log, httpx.AsyncClient() as http:
        await add(http, log.url, [e.leaf for e in entries(3)])
        base = f"{log.url}/ct/v1"
        for query in (
            "get-entries?start=3&end=5",
            "get-entries?start=2&end=1",
            "get-entries?start=-1&end=1",
            "get-sth-consistency?first=0&second=2",
            "get-sth-consistency?first=2&second=9",
            "get-proof-by-hash?hash=AAAA&tree_size=3",
        ):
            resp = await http.get(f"{base}/{query}")
            assert resp.status_code == 400, query
        unknown = "get-proof-by-hash?hash=" + "A" * 43 + "%3D&tree_size=3"
        assert (await http.get(f"{base}/{unknown}")).status_code == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"entries": [], "more": 1}', "exactly"),
        (b'{"entries": [{"leaf_input": "AA=="}]}', "leaf_input and extra_data"),
        (b'{"entries": [{"leaf_input": "AA", "extra_data": ""}]}', "base64"),
        (b'{"entries": {}}', "exactly"),
    ],
)
def test_get_entries_answers_are_parsed_strictly(body: bytes, message: str) -> None:
    with pytest.raises(CTFormatError, match=message):
        parse_entries_json(body, "get-entries")


def test_get_entries_answer_round_trip() -> None:
    body = b'{"entries": [{"leaf_input": "AAE=", "extra_data": ""}]}'
    assert parse_entries_json(body, "get-entries") == [(b"\x00\x01", b"")]


def test_log_serve_refuses_a_bad_ct_key(tmp_path: Path) -> None:
    write_key_file(tmp_path / "log.key", generate_signer(ORIGIN))
    (tmp_path / "ct.pem").write_text("not a key\n")
    command = [sys.executable, "-m", "witnessnet", "log", "serve", "--dir", str(tmp_path / "d"),
               "--key", str(tmp_path / "log.key"), "--origin", ORIGIN,
               "--listen", "127.0.0.1:0", "--ct-key", str(tmp_path / "ct.pem")]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "--ct-key" in result.stderr and "PEM" in result.stderr


@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_get_entries_parse_raises_only_format_errors(data: bytes | str) -> None:
    with contextlib.suppress(CTFormatError):
        parse_entries_json(data if isinstance(data, bytes) else data.encode(), "get-entries")
