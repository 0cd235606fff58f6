"""A witness follows a CCF service (kind = "ccf") and cosigns its COSE-signed roots.

A synthetic CCF ledger (tests/tlog/ccf/synth.py) is published as chunk files plus
ledger-chunks.txt by a static HTTP server process; `witnessnet witness serve` follows it
with the service's 0xff ccf-cose-root vkey, cosigns the first signed root, then advances
with a consistency proof under the CCF hash rule when the ledger grows.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.monitor.helpers import static_server
from tests.tlog.ccf.synth import LedgerWriter, Service
from tests.witness.helpers import WitnessProcess, write_config
from tests.witness.test_feeder import (
    FAST,
    cosigners,
    database,
    eventually,
    stopping,
    stored_size,
    witness_key,
)
from tlog.ccf.heads import service_verifier
from tlog.ccf.source import INDEX
from tlog.checkpoint import open_checkpoint, origin_hash
from tlog.keys import parse_vkey
from tlog.merkle import CCF, verify_consistency

ORIGIN = "ledger.ccf.example"


def publish(directory: Path, writer: LedgerWriter, *cuts: int) -> None:
    directory.mkdir(exist_ok=True)
    chunks = writer.chunks(*cuts)
    for name, data in chunks:
        (directory / name).write_bytes(data)
    (directory / INDEX).write_text("".join(f"{n}\n" for n, _ in chunks))


async def test_witness_cosigns_and_advances_a_ccf_ledger(tmp_path: Path) -> None:
    service = Service(ORIGIN)
    vkey = service_verifier(ORIGIN, service.service_cert).vkey()
    writer = LedgerWriter(service)
    for i in range(5):
        writer.write(b"k%d" % i, b"v")
    writer.sign()  # seqno 7: tree size 7
    ledger = tmp_path / "ledger"
    publish(ledger, writer)
    async with static_server(ledger) as url, httpx.AsyncClient(timeout=10) as http:
        config = write_config(tmp_path / "w", [], key=witness_key(0), top=FAST)
        config.write_text(
            config.read_text()
            + "\n[[logs]]\n"
            + f"origin = {json.dumps(ORIGIN)}\nvkeys = {json.dumps([vkey])}\n"
            + f'url = {json.dumps(url)}\nkind = "ccf"\n'
        )
        with stopping([WitnessProcess(config, "--init")]) as (w,):

            async def at(size: int) -> bool:
                return await stored_size(http, w, ORIGIN) == size

            await eventually(lambda: at(7), "the witness to cosign size 7")
            for i in range(7):
                writer.write(b"more%d" % i, b"v")
            writer.sign()  # seqno 15
            publish(ledger, writer, 7)
            await eventually(lambda: at(15), "the witness to advance to size 15")
            served = (await http.get(f"{w.url}/{origin_hash(ORIGIN)}/checkpoint")).content
            cp = open_checkpoint(served, [parse_vkey(vkey)]).checkpoint
            assert (cp.size, cp.root) == (15, writer.tree.root(15))
            assert cosigners(served, [w]) == {0}
            history = database(w, "SELECT old_size, new_size, proof FROM history")
            assert [(old, new) for old, new, _ in history] == [(0, 7), (7, 15)]
            stored = history[1][2]  # the proof as stored: concatenated 32-byte hashes
            proof = [stored[i : i + 32] for i in range(0, len(stored), 32)]
            verify_consistency(7, 15, writer.tree.root(7), cp.root, proof, CCF)
