"""CCF receipts: the docs example (via tlog.scitt) and receipts made from the real ledgers."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.tlog.ccf.vectors import LEDGERS, chunk_files
from tests.vectors import VECTORS_DIR, parse_vector_file
from tlog.ccf.errors import MalformedReceiptError, ReceiptError
from tlog.ccf.receipt import (
    check_receipt_against_ledger,
    fold_path,
    inclusion_sides,
    ledger_proof,
    receipt_path,
    txid_from_commit_evidence,
)
from tlog.ccf.tx import leaf_from_components
from tlog.ccf.verify import verify_chunks
from tlog.merkle import CCF, MemoryTree, verify_inclusion
from tlog.scitt.ccf_json_receipt import check_ccf_json_receipt, parse_ccf_json_receipt
from tlog.scitt.ccf_proof import ccf_root
from tlog.scitt.report import OK, UNAVAILABLE

REPORTS = {name: verify_chunks(chunk_files(name)) for name in LEDGERS}
DOCS = VECTORS_DIR / "ccf-json-receipt-docs-example.txt"


def test_docs_json_receipt_verifies_as_far_as_its_keys_allow() -> None:
    vf = parse_vector_file(DOCS.read_bytes())
    want_leaf = re.search(r"= ([0-9a-f]{64})\n#   root", vf.header)
    want_root = re.search(r"=\s+([0-9a-f]{64})\n#   signature", vf.header)
    assert want_leaf and want_root
    receipt = parse_ccf_json_receipt(vf["receipt-json"])
    leaf = leaf_from_components(
        receipt.leaf.internal_transaction_hash,
        hashlib.sha256(receipt.leaf.internal_evidence.encode()).digest(),
        receipt.leaf.data_hash,
    )
    assert leaf.hex() == want_leaf[1] == receipt.leaf.hash().hex()
    assert fold_path(leaf, receipt.path).hex() == want_root[1]
    root, checks = check_ccf_json_receipt(receipt, None)
    status = {c.name: c.status for c in checks}
    assert root.hex() == want_root[1]
    assert status["signature"] == OK and status["node id"] == OK
    assert status["service endorsement"] == UNAVAILABLE
    assert txid_from_commit_evidence(receipt.leaf.internal_evidence) == (2, 500)


@pytest.mark.parametrize("ledger", list(LEDGERS))
def test_every_transaction_under_every_signed_root(ledger: str) -> None:
    report = REPORTS[ledger]
    for signed in report.signed_roots:
        for seqno in range(1, signed.size):
            proof = ledger_proof(report, seqno, signed)
            # tlog.scitt's independent fold and RFC 9162 verification agree with the signed root.
            assert ccf_root(proof.leaf, proof.path) == signed.root
            siblings = [h for _, h in proof.path]
            verify_inclusion(proof.leaf, seqno, signed.size, siblings, signed.root, CCF)
            assert check_receipt_against_ledger(report, seqno, proof.leaf, signed.root) == signed


def test_receipts_that_do_not_match_the_ledger() -> None:
    report = REPORTS["cts-canary"]
    last = report.signed_roots[-1]
    leaf = report.tree.node_hash(0, 3)
    with pytest.raises(ReceiptError, match="not a signed root"):
        check_receipt_against_ledger(report, 3, leaf, bytes(32))
    with pytest.raises(ReceiptError, match="seqno 4: the receipt's leaf"):
        check_receipt_against_ledger(report, 4, leaf, last.root)
    with pytest.raises(ReceiptError, match="does not cover seqno 14"):
        check_receipt_against_ledger(report, 14, leaf, last.root)
    with pytest.raises(ReceiptError, match="no verified signed root covers seqno 20"):
        ledger_proof(report, 20)
    with pytest.raises(ReceiptError, match="does not cover seqno 5"):
        ledger_proof(report, 5, report.signed_roots[0])


@given(st.integers(1, 200), st.data())
def test_paths_fold_to_the_root(size: int, data: st.DataObject) -> None:
    tree = MemoryTree(
        (hashlib.sha256(bytes([i % 256, i // 256])).digest() for i in range(size)), CCF
    )
    index = data.draw(st.integers(0, size - 1))
    path = receipt_path(tree, index, size)
    assert fold_path(tree.node_hash(0, index), path) == tree.root(size)
    assert len(inclusion_sides(index, size)) == len(path)


@pytest.mark.parametrize("bad", ["ce:2.500", "ce:2.0:" + "0" * 64, "ce:x.1:" + "0" * 64, ""])
def test_bad_commit_evidence(bad: str) -> None:
    with pytest.raises(MalformedReceiptError):
        txid_from_commit_evidence(bad)
