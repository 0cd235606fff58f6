"""A witness follows Certificate Transparency logs through their ledger kinds.

Real processes on 127.0.0.1: `witnessnet log serve --ct-key` serves the RFC 6962
API (kind "ct", with a small get-entries batch) and a static file server serves
a static-ct-api layout (kind "static-ct"). The witness's feeder converts each
signed tree head to a checkpoint with a type 0x05 signature, verifies it with the
configured vkey, advances with the consistency proof the log serves, and cosigns.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import httpx

from tests.monitor.helpers import static_server
from tests.tlog.ct.helpers import (
    CTEntry,
    ct_signer,
    precert_entry,
    write_ct_key,
    write_static_ct,
    x509_entry,
)
from tests.witness.helpers import WitnessProcess, write_config
from tests.witness.test_feeder import DEADLINE, FAST, cosigners, eventually, stored_size
from tlog.checkpoint import open_checkpoint, origin_hash
from tlog.keys import generate_signer, parse_vkey
from tlog.ledger import open_source
from tlog.merkle import verify_consistency
from witnessnet.commands.key import write_key_file
from witnessnet.demo.procs import log_server

CT_ORIGIN = "ct.test/witnessed"
STATIC_ORIGIN = "static-ct.test/witnessed"


def ct_entries(start: int, count: int) -> list[CTEntry]:
    return [
        (precert_entry if i % 4 == 0 else x509_entry)(i, [f"host{i}.example"])
        for i in range(start, start + count)
    ]


async def cosigned(http: httpx.AsyncClient, w: WitnessProcess, origin: str, vkey: str) -> bytes:
    response = await http.get(f"{w.url}/{origin_hash(origin)}/checkpoint")
    assert response.status_code == 200, response.text
    open_checkpoint(response.content, [parse_vkey(vkey)])
    assert cosigners(response.content, [w]) == {0}
    return response.content


async def follow(
    http: httpx.AsyncClient, w: WitnessProcess, origin: str, vkey: str, size: int
) -> bytes:
    async def reached() -> bool:
        return await stored_size(http, w, origin) == size

    await eventually(reached, f"the witness to cosign {origin} at size {size}")
    return await cosigned(http, w, origin, vkey)


async def add(http: httpx.AsyncClient, url: str, entries: Sequence[CTEntry]) -> None:
    for entry in entries:
        response = await http.post(f"{url}/add", content=entry.leaf)
        assert response.status_code == 200, response.text


async def test_witness_follows_a_ct_api_log_and_a_static_ct_log(tmp_path: Path) -> None:
    write_key_file(tmp_path / "log.key", generate_signer(CT_ORIGIN))
    write_ct_key(tmp_path / "ct.pem")
    static_signer = ct_signer(STATIC_ORIGIN, seed=7)
    static_dir = tmp_path / "static"
    static_log = ct_entries(0, 300)
    write_static_ct(static_dir, static_signer, static_log[:130])
    ct_args = ("--ct-key", str(tmp_path / "ct.pem"), "--ct-max-batch", "5",
               "--batch-interval", "0.05")  # fmt: skip
    async with (
        log_server(tmp_path / "log", tmp_path / "log.key", CT_ORIGIN, ct_args) as ct_log,
        static_server(static_dir) as static_url,
        httpx.AsyncClient(timeout=DEADLINE) as http,
    ):
        ct_vkey = ct_log.listening["ct_vkey"]
        await add(http, ct_log.url, ct_entries(0, 12))
        logs = [(CT_ORIGIN, [ct_vkey], None), (STATIC_ORIGIN, [static_signer.vkey()], None)]
        ledgers = {CT_ORIGIN: ("ct", ct_log.url), STATIC_ORIGIN: ("static-ct", static_url)}
        config = write_config(tmp_path / "w", logs, ledgers=ledgers, top=FAST)
        w = WitnessProcess(config, "--init")
        try:
            first_ct = await follow(http, w, CT_ORIGIN, ct_vkey, 12)
            first_static = await follow(http, w, STATIC_ORIGIN, static_signer.vkey(), 130)

            # Both logs grow; the witness advances only through verified consistency proofs.
            await add(http, ct_log.url, ct_entries(12, 9))
            write_static_ct(static_dir, static_signer, static_log)
            second_ct = await follow(http, w, CT_ORIGIN, ct_vkey, 21)
            second_static = await follow(http, w, STATIC_ORIGIN, static_signer.vkey(), 300)
            # The two cosigned heads of each log are consistent (proof from the log itself).
            for kind, url, vkey, old, new in (
                ("ct", ct_log.url, ct_vkey, first_ct, second_ct),
                ("static-ct", static_url, static_signer.vkey(), first_static, second_static),
            ):
                verifiers = [parse_vkey(vkey)]
                a = open_checkpoint(old, verifiers).checkpoint
                b = open_checkpoint(new, verifiers).checkpoint
                source = open_source(kind, url, verifiers, http)
                proof = await source.consistency_proof(a.size, b.size)
                verify_consistency(a.size, b.size, a.root, b.root, proof)
        finally:
            assert w.stop() == 0
