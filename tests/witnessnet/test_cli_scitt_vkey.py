"""`witnessnet scitt vkey`: an RFC9162_SHA256 service's vkey from a trust store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cbor2

from tests.tlog.scitt import builders as b
from tlog.checkpoint import open_checkpoint
from tlog.keys import CoseRfc9162Verifier, parse_vkey
from tlog.merkle import RFC6962, MemoryTree
from tlog.scitt.checkpoint import receipt_to_checkpoint
from tlog.scitt.receipt import parse_receipt, verify_inclusion_receipt


def scitt(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "witnessnet", "scitt", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_vkey_from_a_trust_store_verifies_the_service_heads(tmp_path: Path) -> None:
    s, other = b.signer(-7), b.signer(-35)
    store = tmp_path / "store.json"
    keys = [b.jwk(s, "k1"), b.jwk(other, "k2")]
    store.write_text(json.dumps({"issuers": {b.ISSUER: {"keys": keys}}}))
    out = scitt("vkey", "--trust-store", store, "--issuer", b.ISSUER, "--kid", "k1")
    assert out.returncode == 0, out.stderr
    v = parse_vkey(out.stdout)
    assert isinstance(v, CoseRfc9162Verifier) and (v.name, v.kid) == (b.ISSUER, b"k1")
    tree = MemoryTree([RFC6962.leaf(b"e%d" % i) for i in range(6)])
    proof = cbor2.dumps([6, 5, tree.inclusion_proof(5, 6)])
    header = {4: b"k1", 395: 1, 15: {1: b.ISSUER}}
    receipt = parse_receipt(b.sign1(s, header, {396: {-1: [proof]}}, None, detached=tree.root()))
    signed = verify_inclusion_receipt(receipt, None, entry=b"e5")
    note = receipt_to_checkpoint(receipt, signed, b.ISSUER, [(v.name, v.key_id)])
    assert open_checkpoint(note, [v]).checkpoint.root == tree.root()
    # Two keys and no kid: the store cannot choose; an unknown issuer has no key.
    ambiguous = scitt("vkey", "--trust-store", store, "--issuer", b.ISSUER)
    assert ambiguous.returncode == 2 and "cannot choose" in ambiguous.stderr
    unknown = scitt("vkey", "--trust-store", store, "--issuer", "https://nobody.example")
    assert unknown.returncode == 2 and "has no key for service" in unknown.stderr
