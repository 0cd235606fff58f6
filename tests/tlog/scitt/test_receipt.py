"""tlog.scitt.receipt: RFC 9942 receipts, RFC9162_SHA256 and CCF_LEDGER_SHA256 proofs."""

from __future__ import annotations

import contextlib
import hashlib

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.tlog.scitt import builders as b
from tests.vectors import VECTORS_DIR
from tlog.cose.sign1 import decode_sign1
from tlog.merkle import RFC6962, MemoryTree
from tlog.scitt.ccf_proof import ccf_root
from tlog.scitt.errors import (
    KeyUnavailableError,
    MalformedReceiptError,
    ReceiptProofError,
    ReceiptSignatureError,
    ScittError,
)
from tlog.scitt.receipt import (
    inclusion_root,
    parse_receipt,
    verify_consistency_receipt,
    verify_inclusion_receipt,
)
from tlog.scitt.statement import signed_statement_bytes

DRAFT = VECTORS_DIR / "cose-receipts-draft-examples"
ESRP = VECTORS_DIR / "scitt-esrp-cts-transparent-statement" / "uvm_0.2.10.cose"
ROOT5 = bytes.fromhex("895731b5a570ea1967dd7804b5f43146175f9ac87d1565985de3ecf09c98589c")
ROOT3 = bytes.fromhex("688928db5e565af2fb9b29db5cce83de0e0352a0f0c671b450b9dc86bed2de3c")
ESRP_ROOT = bytes.fromhex("9a9b439497b18eed7d5a1f3177c3206cb221e12e46e6f66bac935c62053b0466")
ESRP_CLAIMS = bytes.fromhex("a60138fb1591fe6c433b41128b0349cf3636bce74fc8c2e7140bc13b74612649")


def esrp_receipt_bytes() -> bytes:
    return bytes(decode_sign1(ESRP.read_bytes()).unprotected[394][0])


def test_draft_examples_proofs_are_coherent_and_unsigned_checks_say_so() -> None:
    inc = parse_receipt((DRAFT / "inclusion-receipt.cbor").read_bytes())
    con = parse_receipt((DRAFT / "consistency-receipt.cbor").read_bytes())
    assert (inc.vds, inc.issuer, inc.kid, inc.alg) == (
        1, "https://transparency-service.example.com", b"test-key-1", -7,
    )  # fmt: skip
    d3 = con.consistency[0].path[1]
    got = verify_inclusion_receipt(inc, None, entry_hash=d3)
    assert (got.root, got.tree_size, got.leaf_index, got.signature_checked) == (ROOT5, 5, 3, False)
    grown = verify_consistency_receipt(con, None, ROOT3)
    assert (grown.old_size, grown.old_root, grown.tree_size, grown.root) == (3, ROOT3, 5, ROOT5)
    implied = verify_consistency_receipt(con, None, None)
    assert implied.old_root == ROOT3
    with pytest.raises(ReceiptProofError, match="yields old root 6889"):
        verify_consistency_receipt(con, None, ROOT5)


def test_draft_signature_with_a_wrong_key_fails() -> None:
    inc = parse_receipt((DRAFT / "inclusion-receipt.cbor").read_bytes())
    d3 = parse_receipt((DRAFT / "consistency-receipt.cbor").read_bytes()).consistency[0].path[1]
    with pytest.raises(ReceiptSignatureError, match=r"kid 'test-key-1'.*does not verify"):
        verify_inclusion_receipt(inc, b.signer(-7).public, entry_hash=d3)


def test_real_ccf_receipt_verifies_against_the_signed_statement() -> None:
    statement = decode_sign1(ESRP.read_bytes())
    entry = signed_statement_bytes(statement)
    assert hashlib.sha256(entry).digest() == ESRP_CLAIMS
    receipt = parse_receipt(esrp_receipt_bytes())
    assert receipt.ccf_txid == "458.12441" and receipt.issued_at == 1766437888
    root, size, index = inclusion_root(receipt, entry=entry)
    assert (root, size, index) == (ESRP_ROOT, 12441, 12440)
    with pytest.raises(ReceiptProofError, match="is for data hash a60138"):
        inclusion_root(receipt, entry=entry + b"x")


def test_ccf_path_is_the_rfc9162_shape_for_the_txids() -> None:
    receipt = parse_receipt(esrp_receipt_bytes())
    (proof,) = receipt.inclusion
    assert [left for left, _ in proof.path] == [True] * 5


@pytest.mark.parametrize("alg", [-7, -35, -8, -37])
def test_own_rfc9162_receipts_round_trip(alg: int) -> None:
    s = b.signer(alg)
    entries = [b"entry %d" % i for i in range(13)]
    tree = MemoryTree([RFC6962.leaf(e) for e in entries])
    inc = parse_receipt(b.rfc9162_inclusion_receipt(s, tree, 6, 11))
    got = verify_inclusion_receipt(inc, s.public, entry=entries[6])
    assert (got.root, got.tree_size, got.signature_checked) == (tree.root(11), 11, True)
    with pytest.raises(ReceiptSignatureError):
        verify_inclusion_receipt(inc, s.public, entry=entries[5])
    con = parse_receipt(b.rfc9162_consistency_receipt(s, tree, 5, 13))
    got = verify_consistency_receipt(con, s.public, tree.root(5))
    assert (got.root, got.tree_size, got.old_root) == (tree.root(13), 13, tree.root(5))
    with pytest.raises(ReceiptProofError, match="not the trusted"):
        verify_consistency_receipt(con, s.public, tree.root(3))
    # A power-of-two old size: the proof omits the old root, so a wrong one leads to a
    # new root the service never signed.
    con4 = parse_receipt(b.rfc9162_consistency_receipt(s, tree, 4, 13))
    assert verify_consistency_receipt(con4, s.public, tree.root(4)).root == tree.root(13)
    with pytest.raises(ReceiptSignatureError):
        verify_consistency_receipt(con4, s.public, tree.root(3))
    with pytest.raises(MalformedReceiptError, match="power-of-two old size needs the old root"):
        verify_consistency_receipt(con4, s.public, None)


def test_own_ccf_receipt_round_trip_and_wrong_key() -> None:
    s = b.signer(-35)
    data = hashlib.sha256(b"statement").digest()
    leaves = [b.ccf_leaf(hashlib.sha256(b"%d" % i).digest(), i) for i in range(20)]
    leaves[9] = b.ccf_leaf(data, 9)
    tree = b.ccf_tree(leaves)
    receipt = parse_receipt(b.ccf_receipt(s, tree, leaves[9], 9, 17))
    got = verify_inclusion_receipt(receipt, s.public, entry=b"statement")
    assert (got.root, got.tree_size, got.leaf_index, got.ccf_txid) == (tree.root(17), 17, 9, "2.17")
    with pytest.raises(ReceiptSignatureError):
        verify_inclusion_receipt(receipt, b.signer(-35).public, entry=b"statement")
    with pytest.raises(KeyUnavailableError, match="needs an EC secp384r1 key"):
        verify_inclusion_receipt(receipt, b.signer(-7).public, entry=b"statement")


def _receipt(protected: dict, unprotected: dict, payload: bytes | None = None) -> bytes:
    return cbor2.dumps(
        cbor2.CBORTag(18, [cbor2.dumps({1: -7, **protected}), unprotected, payload, b"s"])
    )


INC = cbor2.dumps([5, 3, [bytes(32)] * 3])
CCF_PROOF = cbor2.dumps({1: [bytes(32), "ce:1.2:x", bytes(32)], 2: [[True, bytes(32)]]})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (cbor2.dumps([b"", {}, None, b""]), "must be tagged"),
        (_receipt({}, {396: {-1: [INC]}}), r"no vds \(395\)"),
        (_receipt({395: 3}, {396: {-1: [INC]}}), "structure 3 is not supported"),
        (_receipt({395: 1}, {}), r"no vdp \(396\)"),
        (_receipt({395: 1}, {396: {}}), "holds no proof"),
        (_receipt({395: 1}, {396: {-3: [INC]}}), "unknown proof type -3"),
        (_receipt({395: 1}, {396: {-1: []}}), "non-empty array"),
        (_receipt({395: 1}, {396: {-1: [INC] * 17}}), "at most 16"),
        (_receipt({395: 1}, {396: {-1: [INC], -2: [INC]}}), "both inclusion and consistency"),
        (_receipt({395: 1}, {396: {-1: [cbor2.dumps([5, 5, [bytes(32)]])]}}), "not below"),
        (_receipt({395: 1}, {396: {-1: [cbor2.dumps([5, 3, []])]}}), "non-empty array"),
        (_receipt({395: 1}, {396: {-1: [cbor2.dumps([5, 3, [b"x"]])]}}), "must be 32 bytes"),
        (_receipt({395: 1}, {396: {-1: [cbor2.dumps([-1, 3, [bytes(32)]])]}}), "unsigned"),
        (_receipt({395: 1}, {396: {-1: [cbor2.dumps([5, 3])]}}), "array of 3"),
        (_receipt({395: 1}, {396: {-1: [[5, 3, [bytes(32)]]]}}), "bstr .cbor"),
        (_receipt({395: 1}, {396: {-2: [cbor2.dumps([5, 3, [bytes(32)]])]}}), "0 < old < new"),
        (_receipt({395: 2}, {396: {-2: [INC]}}), "has no consistency proofs"),
        (_receipt({395: 2}, {396: {-1: [cbor2.dumps({1: [bytes(32)], 2: []})]}}), "3 items"),
        (_receipt({395: 2}, {396: {-1: [cbor2.dumps({1: 1})]}}), "exactly keys 1"),
        (_receipt({395: 2}, {396: {-1: [cbor2.dumps({1: [bytes(32), "", bytes(32)], 2: []})]}}),
         "1..1024"),
        (_receipt({395: 2}, {396: {-1: [cbor2.dumps({1: [bytes(32), "e", bytes(32)],
                                                     2: [[1, bytes(32)]]})]}}), "boolean"),
        (_receipt({395: 2, "ccf.v1": {"txid": "1.x"}}, {396: {-1: [CCF_PROOF]}}), "txid"),
        (_receipt({395: 1}, {396: {-1: [INC]}}, b"short"), "not a 32-byte root"),
        (_receipt({395: 1, 15: {1: 7}}, {396: {-1: [INC]}}), "iss"),
    ],
)  # fmt: skip
def test_malformed_receipts_are_rejected_precisely(data: bytes, message: str) -> None:
    with pytest.raises(MalformedReceiptError, match=message):
        parse_receipt(data)


def test_attached_payload_must_be_the_computed_root() -> None:
    s = b.signer(-7)
    tree = MemoryTree([RFC6962.leaf(b"%d" % i) for i in range(5)])
    proof = cbor2.dumps([5, 3, tree.inclusion_proof(3, 5)])
    receipt = parse_receipt(b.sign1(s, b.receipt_header(s, 1), {396: {-1: [proof]}}, tree.root(5)))
    assert verify_inclusion_receipt(receipt, s.public, entry=b"3").signature_checked
    with pytest.raises(ReceiptProofError, match="attached payload"):
        verify_inclusion_receipt(receipt, s.public, entry=b"2")


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 70), st.data())
def test_rfc9162_receipt_roots_agree_with_merkle(n: int, data: st.DataObject) -> None:
    size = data.draw(st.integers(1, n))
    index = data.draw(st.integers(0, size - 1))
    tree = MemoryTree([RFC6962.leaf(b"%d" % i) for i in range(n)])
    receipt = (
        parse_receipt(b.rfc9162_inclusion_receipt(SIGNER, tree, index, size)) if size > 1 else None
    )
    if receipt is not None:
        got = verify_inclusion_receipt(receipt, SIGNER.public, entry=b"%d" % index)
        assert got.root == tree.root(size)
    if size < n:
        con = parse_receipt(b.rfc9162_consistency_receipt(SIGNER, tree, size, n))
        assert verify_consistency_receipt(con, SIGNER.public, tree.root(size)).root == tree.root(n)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 200), st.data())
def test_ccf_paths_agree_with_merkle_ccf_rule(n: int, data: st.DataObject) -> None:
    size = data.draw(st.integers(1, n))
    index = data.draw(st.integers(0, size - 1))
    leaves = [b.ccf_leaf(hashlib.sha256(b"%d" % i).digest(), i) for i in range(n)]
    tree = b.ccf_tree(leaves)
    path = [(left, h) for left, h in b.ccf_path(tree, index, size)]
    assert ccf_root(b.ccf_leaf_hash(leaves[index]), path) == tree.root(size)


SIGNER = b.signer(-8)
SEEDS = [
    (DRAFT / "inclusion-receipt.cbor").read_bytes(),
    (DRAFT / "consistency-receipt.cbor").read_bytes(),
    esrp_receipt_bytes(),
]


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_receipts_raise_only_scitt_errors(data: st.DataObject) -> None:
    raw = bytearray(data.draw(st.sampled_from(SEEDS)))
    for _ in range(data.draw(st.integers(1, 3))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    with contextlib.suppress(ScittError):
        receipt = parse_receipt(bytes(raw))
        if receipt.inclusion:
            verify_inclusion_receipt(receipt, None, entry_hash=bytes(32))
        else:
            verify_consistency_receipt(receipt, None, None)


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_scitt_errors(data: bytes) -> None:
    with contextlib.suppress(ScittError):
        parse_receipt(data)
