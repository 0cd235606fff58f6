"""CCF receipts from, and against, a verified ledger.

A CCF receipt (JSON, CCF 2-5, or COSE with a CCF_LEDGER_SHA256 proof, CCF 6+) proves one
transaction's leaf under a signed root: the leaf is SHA-256(write-set digest || SHA-256(commit
evidence) || claims digest) (tlog.ccf.tx.leaf_from_components) and the path lists the
siblings from the leaf up, each marked left or right. Parsing and verifying receipts on their
own is tlog.scitt (ccf_json_receipt, receipt); this module ties them to a ledger:

- `receipt_path` produces the CCF path for any transaction under any signed root of a
  rebuilt ledger (what CCF's /receipt endpoint would return);
- `check_receipt_against_ledger` says whether a receipt's leaf and root are those of the
  ledger, so a receipt from a service can be checked against its published history.

The commit evidence string (the leaf's preimage) is not in the ledger, only its digest, so
a ledger cannot produce a full receipt by itself; it can check one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tlog.ccf.errors import MalformedReceiptError, ReceiptError
from tlog.ccf.verify import LedgerReport, SignedRoot
from tlog.merkle import CCF, MemoryTree

_COMMIT_EVIDENCE = re.compile(r"ce:(0|[1-9][0-9]{0,18})\.([1-9][0-9]{0,18}):[0-9a-f]{64}")


def inclusion_sides(index: int, size: int) -> list[bool]:
    """For each sibling of leaf index in a tree of size, leaf end first: is it on the left?"""
    if not 0 <= index < size:
        raise MalformedReceiptError(f"leaf {index} is not in a tree of size {size}")
    sides: list[bool] = []
    start, end = 0, size
    while end - start > 1:
        mid = start + (1 << ((end - start - 1).bit_length() - 1))
        sides.append(index >= mid)
        start, end = (mid, end) if index >= mid else (start, mid)
    sides.reverse()
    return sides


def receipt_path(tree: MemoryTree, index: int, size: int) -> tuple[tuple[bool, bytes], ...]:
    """The CCF receipt path of leaf index under the root of the first size leaves."""
    siblings = tree.inclusion_proof(index, size)
    return tuple(zip(inclusion_sides(index, size), siblings, strict=True))


def fold_path(leaf: bytes, path: tuple[tuple[bool, bytes], ...]) -> bytes:
    """The root a CCF path leads to from leaf ((True, h): h is the left sibling)."""
    acc = leaf
    for left, h in path:
        acc = CCF.node(h, acc) if left else CCF.node(acc, h)
    return acc


def txid_from_commit_evidence(evidence: str) -> tuple[int, int]:
    """(view, seqno) from CCF commit evidence "ce:<view>.<seqno>:<64 hex>"."""
    m = _COMMIT_EVIDENCE.fullmatch(evidence)
    if m is None:
        raise MalformedReceiptError(f"commit evidence {evidence[:80]!r} is not ce:<txid>:<hex>")
    return int(m[1]), int(m[2])


@dataclass(frozen=True, slots=True)
class LedgerProof:
    """One transaction's leaf, a signed root covering it, and the path between them."""

    seqno: int
    leaf: bytes
    signed_root: SignedRoot
    path: tuple[tuple[bool, bytes], ...]


def ledger_proof(
    report: LedgerReport, seqno: int, signed_root: SignedRoot | None = None
) -> LedgerProof:
    """The proof of transaction seqno under signed_root (default: the first that covers it)."""
    covering = [r for r in report.signed_roots if r.size > seqno]
    if signed_root is None:
        if not covering:
            raise ReceiptError(f"no verified signed root covers seqno {seqno}")
        signed_root = covering[0]
    elif signed_root not in covering:
        raise ReceiptError(f"signed root {signed_root.txid} does not cover seqno {seqno}")
    leaf = report.tree.node_hash(0, seqno)
    return LedgerProof(seqno, leaf, signed_root, receipt_path(report.tree, seqno, signed_root.size))


def check_receipt_against_ledger(
    report: LedgerReport, seqno: int, leaf: bytes, root: bytes
) -> SignedRoot:
    """The ledger's signed root equal to root that covers seqno, whose leaf there is leaf.

    ReceiptError says which part differs: no such signed root, or another leaf.
    """
    match = [r for r in report.signed_roots if r.root == root]
    if not match:
        raise ReceiptError(f"root {root.hex()} is not a signed root of the ledger")
    signed = match[0]
    if not 0 < seqno < signed.size:
        raise ReceiptError(f"signed root {signed.txid} does not cover seqno {seqno}")
    have = report.tree.node_hash(0, seqno)
    if have != leaf:
        raise ReceiptError(
            f"seqno {seqno}: the receipt's leaf {leaf.hex()} is not the ledger's {have.hex()}"
        )
    return signed
