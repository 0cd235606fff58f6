"""Benchmark the tlog core against the physical limits measured in the same run.

Prints, each beside its limit:
- hashes/s building a 1M-leaf RFC 6962 tree (MemoryTree and CompactTree) vs raw
  hashlib SHA-256 on 33/65-byte inputs;
- consistency and inclusion proof verifications/s vs the raw hash rate divided by
  the hashes one verification needs;
- signed-note verifications/s (parse + Ed25519) vs raw Ed25519 verify/s.

Usage: python bench/merkle.py [--leaves N]
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric import ed25519

from tlog.checkpoint import Checkpoint, open_checkpoint
from tlog.keys import generate_signer
from tlog.merkle import RFC6962, CompactTree, MemoryTree, verify_consistency, verify_inclusion
from tlog.note import sign_note


def rate(fn: Callable[[], object], count: int) -> float:
    """Calls per second of `fn`, run `count` times."""
    start = time.perf_counter()
    for _ in range(count):
        fn()
    return count / (time.perf_counter() - start)


def raw_sha256_rate(n: int) -> float:
    """SHA-256 of 65-byte inputs (an interior node), per second."""
    data = b"\x01" + b"x" * 64
    sha = hashlib.sha256
    start = time.perf_counter()
    for _ in range(n):
        sha(data).digest()
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1 << 20)
    args = parser.parse_args()
    n = args.leaves

    raw = raw_sha256_rate(1_000_000)
    print(f"raw hashlib SHA-256 (65-byte input):  {raw:12,.0f} hashes/s   <- limit")

    leaves = [RFC6962.leaf(i.to_bytes(8, "big")) for i in range(n)]
    start = time.perf_counter()
    tree = MemoryTree(leaves)
    elapsed = time.perf_counter() - start
    # A tree of n leaves has n-1 interior nodes.
    print(
        f"MemoryTree build, {n:,} leaves:     {(n - 1) / elapsed:12,.0f} hashes/s   "
        f"({elapsed:.2f} s, {100 * (n - 1) / elapsed / raw:.0f}% of raw)"
    )
    compact = CompactTree()
    start = time.perf_counter()
    for leaf in leaves:
        compact.append(leaf)
    elapsed = time.perf_counter() - start
    print(
        f"CompactTree append, {n:,} leaves:   {(n - 1) / elapsed:12,.0f} hashes/s   "
        f"({elapsed:.2f} s, {100 * (n - 1) / elapsed / raw:.0f}% of raw)"
    )
    assert compact.root() == tree.root()

    old, new = n // 3 + 7, n - 5
    cproof = tree.consistency_proof(old, new)
    old_root, new_root = tree.root(old), tree.root(new)
    c_rate = rate(lambda: verify_consistency(old, new, old_root, new_root, cproof), 20_000)
    # Verification computes both roots: about two hashes per proof element.
    c_limit = raw / (2 * len(cproof))
    print(
        f"consistency verify ({len(cproof)} hashes):     {c_rate:12,.0f} proofs/s   "
        f"(limit ~{c_limit:,.0f}/s from the raw hash rate)"
    )
    index = n // 2 + 3
    iproof = tree.inclusion_proof(index, new)
    leaf = leaves[index]
    i_rate = rate(lambda: verify_inclusion(leaf, index, new, iproof, new_root), 20_000)
    i_limit = raw / len(iproof)
    print(
        f"inclusion verify ({len(iproof)} hashes):       {i_rate:12,.0f} proofs/s   "
        f"(limit ~{i_limit:,.0f}/s from the raw hash rate)"
    )

    signer = generate_signer("bench.example/log")
    body = Checkpoint("bench.example/log", new, new_root).body()
    note_bytes = sign_note(body, [signer]).to_bytes()
    verifiers = [signer.verifier()]
    msg, sig = body.encode(), signer.sign(body.encode())
    pub = ed25519.Ed25519PublicKey.from_public_bytes(signer.public)
    raw_ed = rate(lambda: pub.verify(sig, msg), 20_000)
    print(f"raw Ed25519 verify:                   {raw_ed:12,.0f} verifies/s  <- limit")
    note_rate = rate(lambda: open_checkpoint(note_bytes, verifiers), 20_000)
    print(
        f"checkpoint note open (parse+verify):  {note_rate:12,.0f} notes/s     "
        f"({100 * note_rate / raw_ed:.0f}% of raw Ed25519)"
    )


if __name__ == "__main__":
    main()
