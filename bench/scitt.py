"""Benchmark SCITT verification against the raw signature rates measured in the same run.

Prints, each beside its limit:
- real transparent statements verified/s (uvm_0.2.10.cose: PS384 issuer signature, did:x509
  chain of 3 RSA certificates, one ES384 CCF receipt) vs the raw RSA/ECDSA verifications
  the same work needs;
- ES256 RFC9162_SHA256 inclusion receipts verified/s (decode, 20-hash proof, signature) vs
  raw ECDSA P-256 verify/s.

Usage: python bench/scitt.py [--seconds S]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from tlog.cose import headers as h
from tlog.cose.keys import load_certificate
from tlog.cose.sign1 import decode_sign1
from tlog.merkle import HASH_SIZE, RFC6962, root_from_inclusion_proof
from tlog.scitt.receipt import parse_receipt, verify_inclusion_receipt
from tlog.scitt.statement import verify_statement
from tlog.scitt.trust_store import parse_trust_store

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of fn, run for about `seconds`."""
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn()
        count += 1
    return count / elapsed


def receipt_20() -> tuple[bytes, bytes, ec.EllipticCurvePublicKey]:
    """An ES256 inclusion receipt for one leaf of a 2^20-leaf tree (a 20-hash proof)."""
    key = ec.generate_private_key(ec.SECP256R1())
    entry = b"signed statement"
    path = [bytes([i]) * HASH_SIZE for i in range(20)]
    index, size = 12345, 1 << 20
    root = root_from_inclusion_proof(RFC6962.leaf(entry), index, size, path)
    protected = cbor2.dumps({1: -7, 395: 1})
    r, s = decode_dss_signature(
        key.sign(cbor2.dumps(["Signature1", protected, b"", root]), ec.ECDSA(hashes.SHA256()))
    )
    proof = cbor2.dumps([size, index, path])
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    receipt = cbor2.dumps(cbor2.CBORTag(18, [protected, {396: {-1: [proof]}}, None, sig]))
    return receipt, entry, key.public_key()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    t = args.seconds
    esrp = VECTORS / "scitt-esrp-cts-transparent-statement"
    data = (esrp / "uvm_0.2.10.cose").read_bytes()
    store = parse_trust_store((esrp / "esrp-cts-db.json").read_bytes(), "esrp-cts-db.json")
    assert verify_statement(data, store).status == "ok"

    statement = decode_sign1(data)
    certs = [load_certificate(c, "c") for c in h.x5chain(statement.header(h.X5CHAIN))]
    leaf_key = certs[0].public_key()
    tbs = statement.sig_structure()
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)
    service = store.keys[-1].key
    receipt = parse_receipt(statement.unprotected[394][0])
    root = bytes.fromhex("9a9b439497b18eed7d5a1f3177c3206cb221e12e46e6f66bac935c62053b0466")
    sig = receipt.sign1.signature
    der = encode_dss_signature(int.from_bytes(sig[:48], "big"), int.from_bytes(sig[48:], "big"))
    receipt_tbs = receipt.sign1.sig_structure(root)

    def raw_work() -> None:
        leaf_key.verify(statement.signature, tbs, pss, hashes.SHA384())  # type: ignore[call-arg,union-attr]
        certs[0].verify_directly_issued_by(certs[1])
        certs[1].verify_directly_issued_by(certs[2])
        service.verify(der, receipt_tbs, ec.ECDSA(hashes.SHA384()))  # type: ignore[call-arg,union-attr]

    full = rate(lambda: verify_statement(data, store), t)
    raw = rate(raw_work, t)
    print(f"transparent statement (real ESRP): {full:8.0f} verified/s   "
          f"raw signature work alone: {raw:8.0f}/s  ({full / raw:.0%})")  # fmt: skip

    blob, entry, key = receipt_20()

    def one_receipt() -> None:
        verify_inclusion_receipt(parse_receipt(blob), key, entry=entry)

    item = cbor2.loads(blob).value
    r_tbs = cbor2.dumps(["Signature1", item[0], b"", decode_root(blob, entry)])
    r_der = encode_dss_signature(
        int.from_bytes(item[3][:32], "big"), int.from_bytes(item[3][32:], "big")
    )
    got = rate(one_receipt, t)
    raw_ecdsa = rate(lambda: key.verify(r_der, r_tbs, ec.ECDSA(hashes.SHA256())), t)
    print(f"ES256 inclusion receipt, 20 hashes: {got:8.0f} verified/s   "
          f"raw ECDSA P-256 verify: {raw_ecdsa:8.0f}/s  ({got / raw_ecdsa:.0%})")  # fmt: skip
    print(json.dumps({"statement_per_s": round(full), "receipt_per_s": round(got)}))


def decode_root(blob: bytes, entry: bytes) -> bytes:
    return verify_inclusion_receipt(parse_receipt(blob), None, entry=entry).root


if __name__ == "__main__":
    main()
