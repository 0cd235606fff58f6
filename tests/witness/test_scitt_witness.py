"""A witness follows a SCITT service (kind = "scitt") and cosigns its RFC 9162 signed roots.

The local SCITT test service (tests/tlog/scitt/scitt_service.py) serves RFC9162_SHA256
receipts over real HTTP; `witnessnet witness serve` (a subprocess) follows it with the
service's cose-rfc9162-root vkey (tlog.keys.CoseRfc9162Verifier), cosigns the first signed
root, advances with the service's consistency receipt when the service grows, and refuses
a head signed by another key.
"""

from __future__ import annotations

import json
import re
from functools import partial
from pathlib import Path

import httpx
import hypercorn.trio
import trio
from hypercorn.config import Config

from tests.tlog.scitt import builders as b
from tests.tlog.scitt.scitt_service import ScittService
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
from tlog.checkpoint import open_checkpoint, origin_hash
from tlog.keys import parse_vkey, tree_hash_rule
from tlog.merkle import RFC6962, verify_consistency

ORIGIN = b.ISSUER


async def test_witness_cosigns_and_advances_a_scitt_service(
    tmp_path: Path, nursery: trio.Nursery
) -> None:
    service = ScittService(b.signer(-7))
    for i in range(9):
        service.register(b.statement(b.signer(-8), b"artifact %d" % i))
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    service.url = (await nursery.start(partial(hypercorn.trio.serve, service.app(), config)))[0]
    vkey = b.root_verifier(service.signer).vkey()
    assert tree_hash_rule([parse_vkey(vkey)]) is RFC6962
    path = write_config(tmp_path / "w", [], key=witness_key(0), top=FAST)
    path.write_text(
        path.read_text()
        + "\n[[logs]]\n"
        + f"origin = {json.dumps(ORIGIN)}\nvkeys = {json.dumps([vkey])}\n"
        + f'url = {json.dumps(service.url)}\nkind = "scitt"\n'
    )
    async with httpx.AsyncClient(timeout=10) as http:
        with stopping([WitnessProcess(path, "--init")]) as (w,):

            async def at(size: int) -> bool:
                return await stored_size(http, w, ORIGIN) == size

            await eventually(lambda: at(9), "the witness to cosign size 9")
            for i in range(9, 30):
                service.register(b.statement(b.signer(-8), b"artifact %d" % i))
            await eventually(lambda: at(30), "the witness to advance to size 30")
            served = (await http.get(f"{w.url}/{origin_hash(ORIGIN)}/checkpoint")).content
            cp = open_checkpoint(served, [parse_vkey(vkey)]).checkpoint
            assert (cp.size, cp.root) == (30, service.tree.root(30))
            assert cosigners(served, [w]) == {0}
            history = database(w, "SELECT old_size, new_size, proof FROM history")
            assert [(old, new) for old, new, _ in history] == [(0, 9), (9, 30)]
            stored = history[1][2]
            proof = [stored[i : i + 32] for i in range(0, len(stored), 32)]
            verify_consistency(9, 30, service.tree.root(9), cp.root, proof, RFC6962)
            # The service's key changes: its heads no longer verify, the witness stays put.
            service.signer = b.signer(-7)
            for i in range(30, 35):
                service.register(b.statement(b.signer(-8), b"artifact %d" % i))

            async def refused_twice() -> bool:
                text = (await http.get(f"{w.url}/metrics")).text
                pattern = rf'witness_feeder_errors_total{{kind="\w+",origin="{ORIGIN}"}} (\S+)'
                return sum(float(n) for n in re.findall(pattern, text)) >= 2

            await eventually(refused_twice, "the feeder to refuse the new key's heads")
            assert await at(30)
