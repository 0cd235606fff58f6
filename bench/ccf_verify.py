"""Benchmark CCF ledger verification on the real ledgers in ../shared/vectors.

Prints, each beside a limit measured in the same run:
- transactions/s and MB/s of full verification (parse, leaf digests, tree, every signature)
  vs parsing alone and vs raw hashlib SHA-256 over the same bytes;
- signature transactions/s vs raw ECDSA verify rates (each signature transaction costs one
  node-signature verify and, on CCF 5+, one COSE ES384 verify; each node certificate is
  checked against the service certificate once).

Usage: python bench/ccf_verify.py [--repeat N]
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

from tlog.ccf.chunk import parse_chunk
from tlog.ccf.tx import parse_transaction
from tlog.ccf.verify import verify_chunks

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"
LEDGERS = ["ccf-ledger-cts-canary", "ccf-ledger-sgx-service", "ccf-ledger-expired-service"]


def load() -> list[list[tuple[str, bytes]]]:
    return [
        [(p.name, p.read_bytes()) for p in sorted((VECTORS / name).glob("*.committed"))]
        for name in LEDGERS
    ]


def timed(fn: Callable[[], object], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def ecdsa_rate(
    curve: ec.EllipticCurve, algo: hashes.HashAlgorithm, prehashed: bool, n: int
) -> float:
    key = ec.generate_private_key(curve)
    msg = hashlib.sha256(b"root").digest() if prehashed else b"x" * 200
    alg = ec.ECDSA(utils.Prehashed(hashes.SHA256()) if prehashed else algo)
    sig = key.sign(msg, alg)
    pub = key.public_key()
    start = time.perf_counter()
    for _ in range(n):
        pub.verify(sig, msg, alg)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    ledgers = load()
    reports = [verify_chunks(files) for files in ledgers]
    assert all(r.ok for r in reports), [r.problem for r in reports]
    txs = sum(r.transactions for r in reports)
    sigs = sum(len(r.signed_roots) for r in reports)
    cose = sum(1 for r in reports for s in r.signed_roots if s.cose is not None)
    size = sum(len(d) for files in ledgers for _, d in files)
    raws = [
        rt.raw
        for files in ledgers
        for name, data in files
        for rt in parse_chunk(data, name).transactions
    ]

    full = timed(lambda: [verify_chunks(files) for files in ledgers], args.repeat)

    def parse_only() -> None:
        for files in ledgers:
            for name, data in files:
                for rt in parse_chunk(data, name).transactions:
                    parse_transaction(rt.raw)

    parse = timed(parse_only, args.repeat)
    sha = timed(lambda: [hashlib.sha256(r).digest() for r in raws], args.repeat * 10)
    p384_pre = ecdsa_rate(ec.SECP384R1(), hashes.SHA384(), True, 1500)
    p384 = ecdsa_rate(ec.SECP384R1(), hashes.SHA384(), False, 1500)
    # Node signature, plus COSE where present; certificates are checked once per node and
    # service certificate (tlog.ccf.verify), which is once per ledger here.
    nodes = sum(len({s.node for s in r.signed_roots}) for r in reports)
    ecdsa_per_sig = (sigs + cose + nodes) / sigs
    ecdsa_seconds = (sigs + nodes) / p384_pre + cose / p384

    print(
        f"vectors: {len(ledgers)} ledgers, {txs} transactions, {size / 1e6:.2f} MB, "
        f"{sigs} signature transactions ({cose} with COSE), repeat {args.repeat}"
    )
    print(f"full verification:        {txs / full:10,.0f} tx/s  {size / full / 1e6:8.1f} MB/s")
    print(f"  parse only:             {txs / parse:10,.0f} tx/s  {size / parse / 1e6:8.1f} MB/s")
    limit = f"{txs / sha:10,.0f} tx/s  {size / sha / 1e6:8.1f} MB/s"
    print(f"  raw SHA-256 of the txs: {limit}   <- limit")
    print(f"signature transactions:   {sigs / full:10,.0f} sig/s (whole run's time / signatures)")
    print(f"  raw ECDSA P-384 verify (prehashed SHA-256 root): {p384_pre:8,.0f}/s")
    print(f"  raw ECDSA P-384 verify (ES384, SHA-384 message): {p384:8,.0f}/s")
    print(
        f"  limit at {ecdsa_per_sig:.2f} ECDSA verifies per signature: "
        f"{sigs / ecdsa_seconds:8,.0f} sig/s   <- limit"
    )
    print(f"share of time in ECDSA: {ecdsa_seconds / full:.0%}")


if __name__ == "__main__":
    main()
