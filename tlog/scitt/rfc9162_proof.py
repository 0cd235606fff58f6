"""RFC9162_SHA256 proofs in COSE receipts (RFC 9942 section 5, vds 1). Pure.

inclusion-proof   = bstr .cbor [tree-size: uint, leaf-index: uint, inclusion-path: [+ bstr]]
consistency-proof = bstr .cbor [tree-size-1: uint, tree-size-2: uint, consistency-path: [+ bstr]]

The paths are the RFC 9162 PATH and PROOF lists, verified with tlog.merkle
under the RFC 6962 hash rule. Note the CDDL's `[+ bstr]`: an empty path (a
one-leaf tree, or equal sizes) is not representable and is rejected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tlog.cose import cbor
from tlog.cose.errors import MalformedCoseError
from tlog.errors import MalformedProofError
from tlog.merkle import HASH_SIZE, RFC6962, root_from_inclusion_proof, roots_from_consistency_proof
from tlog.scitt.errors import MalformedReceiptError, ReceiptProofError

MAX_PATH = 64
MAX_PROOF_SIZE = 16 * 1024
MAX_TREE_SIZE = (1 << 63) - 1


@dataclass(frozen=True, slots=True)
class Rfc9162InclusionProof:
    tree_size: int
    leaf_index: int
    path: tuple[bytes, ...]

    def root(self, leaf_hash: bytes) -> bytes:
        """The root the path leads to from leaf_hash (RFC 9162 2.1.3.2)."""
        try:
            return root_from_inclusion_proof(
                leaf_hash, self.leaf_index, self.tree_size, self.path, RFC6962
            )
        except MalformedProofError as e:
            raise MalformedReceiptError(f"RFC 9162 inclusion proof: {e}") from None


@dataclass(frozen=True, slots=True)
class Rfc9162ConsistencyProof:
    tree_size_1: int
    tree_size_2: int
    path: tuple[bytes, ...]

    def roots(self, old_root: bytes | None) -> tuple[bytes, bytes]:
        """(old root, new root) per RFC 9162 2.1.4.2; old_root is needed for a power-of-two size.

        When old_root is given the proof must reproduce it (ReceiptProofError).
        """
        m = self.tree_size_1
        if old_root is None:
            if m & (m - 1) == 0:
                raise MalformedReceiptError(
                    f"consistency proof from size {m}: a power-of-two old size needs the old root"
                )
            seed = bytes(HASH_SIZE)
        else:
            seed = old_root
        try:
            fr, sr = roots_from_consistency_proof(m, self.tree_size_2, seed, self.path, RFC6962)
        except MalformedProofError as e:
            raise MalformedReceiptError(f"RFC 9162 consistency proof: {e}") from None
        if old_root is not None and fr != old_root:
            raise ReceiptProofError(
                f"consistency proof {m} -> {self.tree_size_2} yields old root {fr.hex()}, "
                f"not the trusted {old_root.hex()}"
            )
        return fr, sr


def _decode_triple(data: Any, what: str) -> tuple[int, int, tuple[bytes, ...]]:
    if not isinstance(data, bytes):
        raise MalformedReceiptError(f"{what} must be a byte string (bstr .cbor)")
    try:
        item = cbor.decode(data, what, MAX_PROOF_SIZE)
    except MalformedCoseError as e:
        raise MalformedReceiptError(str(e)) from None
    if not isinstance(item, list | tuple) or len(item) != 3:
        raise MalformedReceiptError(f"{what} must be an array of 3 items")
    a, b, path = item
    for name, n in (("first size", a), ("second size", b)):
        if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= MAX_TREE_SIZE:
            raise MalformedReceiptError(f"{what}: {name} must be an unsigned integer below 2^63")
    if not isinstance(path, list | tuple) or not path:
        raise MalformedReceiptError(f"{what}: path must be a non-empty array")
    if len(path) > MAX_PATH:
        raise MalformedReceiptError(f"{what}: path has {len(path)} hashes, at most {MAX_PATH}")
    for i, h in enumerate(path):
        if not isinstance(h, bytes) or len(h) != HASH_SIZE:
            raise MalformedReceiptError(f"{what}: path hash {i} must be {HASH_SIZE} bytes")
    return a, b, tuple(path)


def parse_inclusion(data: Any, what: str) -> Rfc9162InclusionProof:
    """Decode one RFC9162_SHA256 inclusion proof."""
    size, index, path = _decode_triple(data, what)
    if index >= size:
        raise MalformedReceiptError(f"{what}: leaf index {index} is not below tree size {size}")
    return Rfc9162InclusionProof(size, index, path)


def parse_consistency(data: Any, what: str) -> Rfc9162ConsistencyProof:
    """Decode one RFC9162_SHA256 consistency proof."""
    old, new, path = _decode_triple(data, what)
    if not 0 < old < new:
        raise MalformedReceiptError(f"{what}: sizes {old} -> {new} must satisfy 0 < old < new")
    return Rfc9162ConsistencyProof(old, new, path)


def chain_consistency(
    proofs: Sequence[Rfc9162ConsistencyProof], old_root: bytes | None
) -> tuple[int, bytes, int, bytes]:
    """Apply proofs in order, each starting where the last ended: (old size, old root, new size,
    new root)."""
    first_size, first_root = proofs[0].tree_size_1, old_root
    root = old_root
    size = first_size
    for i, proof in enumerate(proofs):
        if proof.tree_size_1 != size:
            raise MalformedReceiptError(
                f"consistency proof {i} starts at size {proof.tree_size_1}, "
                f"the one before ends at {size}"
            )
        fr, root = proof.roots(root)
        if i == 0:
            first_root = fr
        size = proof.tree_size_2
    assert first_root is not None and root is not None
    return first_size, first_root, size, root
