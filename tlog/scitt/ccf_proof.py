"""CCF_LEDGER_SHA256 inclusion proofs (COSE receipts CCF profile, vds 2). Pure.

ccf-inclusion-proof = bstr .cbor { 1: ccf-leaf, 2: [+ [left: bool, hash: bstr .size 32]] }
ccf-leaf = [internal-transaction-hash: bstr .size 32, internal-evidence: tstr .size (1..1024),
            data-hash: bstr .size 32]

The leaf hash is SHA-256(internal-transaction-hash || SHA-256(internal-evidence)
|| data-hash); each path element folds into the running hash h as
SHA-256(hash || h) when `left` is true, SHA-256(h || hash) otherwise. The result
is the CCF Merkle root that the receipt signs as its detached payload. This is
the CCF hash rule of tlog.merkle (unprefixed SHA-256, raw 32-byte leaves).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tlog.cose import cbor
from tlog.cose.errors import MalformedCoseError
from tlog.merkle import CCF, HASH_SIZE
from tlog.scitt.errors import MalformedReceiptError

MAX_EVIDENCE = 1024
MAX_PATH = 64
MAX_PROOF_SIZE = 16 * 1024


@dataclass(frozen=True, slots=True)
class CcfLeaf:
    """The three components of a CCF transaction leaf."""

    internal_transaction_hash: bytes
    internal_evidence: str
    data_hash: bytes

    def hash(self) -> bytes:
        """The leaf hash that enters the Merkle tree."""
        evidence = hashlib.sha256(self.internal_evidence.encode("utf-8")).digest()
        return hashlib.sha256(self.internal_transaction_hash + evidence + self.data_hash).digest()


@dataclass(frozen=True, slots=True)
class CcfInclusionProof:
    """A parsed CCF inclusion proof: the leaf and its path to the root, leaf end first."""

    leaf: CcfLeaf
    path: tuple[tuple[bool, bytes], ...]

    def root(self) -> bytes:
        """The Merkle root the path leads to from the leaf."""
        return ccf_root(self.leaf.hash(), self.path)


def ccf_root(leaf_hash: bytes, path: Sequence[tuple[bool, bytes]]) -> bytes:
    """Fold a CCF path into leaf_hash: (True, h) means h is the left sibling."""
    acc = leaf_hash
    for left, h in path:
        acc = CCF.node(h, acc) if left else CCF.node(acc, h)
    return acc


def _digest(value: Any, what: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        got = f"{len(value)} bytes" if isinstance(value, bytes) else type(value).__name__
        raise MalformedReceiptError(f"{what} must be a {HASH_SIZE}-byte string, got {got}")
    return value


def parse_leaf(item: Any, what: str) -> CcfLeaf:
    """A ccf-leaf array."""
    if not isinstance(item, list | tuple) or len(item) != 3:
        raise MalformedReceiptError(f"{what}: leaf must be an array of 3 items")
    tx_hash, evidence, data_hash = item
    if not isinstance(evidence, str) or not 1 <= len(evidence.encode("utf-8")) <= MAX_EVIDENCE:
        raise MalformedReceiptError(
            f"{what}: internal-evidence must be a text string of 1..{MAX_EVIDENCE} bytes"
        )
    return CcfLeaf(
        _digest(tx_hash, f"{what}: internal-transaction-hash"),
        evidence,
        _digest(data_hash, f"{what}: data-hash"),
    )


def parse_path(item: Any, what: str) -> tuple[tuple[bool, bytes], ...]:
    """An array of [left: bool, hash: bstr .size 32] elements."""
    if not isinstance(item, list | tuple):
        raise MalformedReceiptError(f"{what}: path must be an array")
    if len(item) > MAX_PATH:
        raise MalformedReceiptError(f"{what}: path has {len(item)} elements, at most {MAX_PATH}")
    path = []
    for i, element in enumerate(item):
        if not isinstance(element, list | tuple) or len(element) != 2:
            raise MalformedReceiptError(f"{what}: path element {i} must be [left, hash]")
        left, h = element
        if not isinstance(left, bool):
            raise MalformedReceiptError(f"{what}: path element {i}: left must be a boolean")
        path.append((left, _digest(h, f"{what}: path element {i} hash")))
    return tuple(path)


def parse_ccf_inclusion_proof(data: Any, what: str) -> CcfInclusionProof:
    """Decode one `bstr .cbor ccf-inclusion-proof`."""
    if not isinstance(data, bytes):
        raise MalformedReceiptError(f"{what} must be a byte string (bstr .cbor)")
    try:
        item = cbor.decode(data, what, MAX_PROOF_SIZE)
    except MalformedCoseError as e:
        raise MalformedReceiptError(str(e)) from None
    if not isinstance(item, Mapping) or set(item) != {1, 2}:
        raise MalformedReceiptError(f"{what} must be a map with exactly keys 1 (leaf) and 2 (path)")
    return CcfInclusionProof(parse_leaf(item[1], what), parse_path(item[2], what))
