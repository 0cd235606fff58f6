"""tlog.scitt.ccf_json_receipt: the CCF docs' write receipt, tampering, malformed members."""

from __future__ import annotations

import contextlib
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.vectors import load
from tlog.scitt.ccf_json_receipt import check_ccf_json_receipt, parse_ccf_json_receipt
from tlog.scitt.errors import MalformedReceiptError, ScittError

RECEIPT = load("ccf-json-receipt-docs-example.txt")["receipt-json"]
ROOT = "15f24788c7ec4ce792deccf4fcd7e28992e154f37ecdd96ea1ecd16199f32ae0"
LEAF = "11de613bc00e4aa1a919bd1f22d2c15542acf4356bfe97abc9427834b2a54832"


def statuses(checks) -> dict[str, str]:
    return {c.name: c.status for c in checks}


def test_docs_receipt_verifies_except_the_unpublished_service_identity() -> None:
    receipt = parse_ccf_json_receipt(RECEIPT)
    assert receipt.leaf.hash().hex() == LEAF
    root, checks = check_ccf_json_receipt(receipt, None)
    assert root.hex() == ROOT
    assert statuses(checks) == {
        "proof": "ok", "node id": "ok", "signature": "ok", "service endorsement": "unavailable",
    }  # fmt: skip
    assert "'CN=CCF Network'" in checks[-1].detail


def _edit(**changes) -> bytes:
    doc = json.loads(RECEIPT)
    for path, value in changes.items():
        target = doc
        *parents, last = path.split("__")
        for p in parents:
            target = target[int(p)] if p.isdigit() else target[p]
        target[int(last) if last.isdigit() else last] = value
    return json.dumps(doc).encode()


def test_tampered_proof_or_leaf_fails_the_signature() -> None:
    for data in (
        _edit(proof__2__left="00" * 32),
        _edit(leaf_components__claims_digest="01" * 32),
        _edit(leaf_components__commit_evidence="ce:2.501:" + "a4" * 32),
    ):
        root, checks = check_ccf_json_receipt(parse_ccf_json_receipt(data), None)
        assert root.hex() != ROOT
        assert statuses(checks)["signature"] == "failed"


def test_tampered_signature_and_node_id_fail() -> None:
    doc = json.loads(RECEIPT)
    sig = bytearray(__import__("base64").b64decode(doc["signature"]))
    sig[20] ^= 1
    data = _edit(signature=__import__("base64").b64encode(bytes(sig)).decode(), node_id="00" * 32)
    _, checks = check_ccf_json_receipt(parse_ccf_json_receipt(data), None)
    assert statuses(checks)["signature"] == "failed" and statuses(checks)["node id"] == "failed"


def test_service_endorsement_with_a_certificate_that_did_not_issue_the_node_fails() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "CCF Network")])
    import datetime

    now = datetime.datetime(2022, 4, 25, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA384())
    )  # fmt: skip
    _, checks = check_ccf_json_receipt(parse_ccf_json_receipt(RECEIPT), cert)
    assert statuses(checks)["service endorsement"] == "failed"
    assert cert.public_bytes(Encoding.DER)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cert": "nope"}, "not an X.509"),
        ({"signature": "***"}, "base64"),
        ({"signature": ""}, "no signature"),
        ({"leaf_components": 5}, "leaf_components"),
        ({"leaf_components__write_set_digest": "AB" * 32}, "lowercase hex"),
        ({"leaf_components__claims_digest": "ab"}, "64 lowercase hex"),
        ({"leaf_components__commit_evidence": ""}, "commit_evidence"),
        ({"proof": [{"up": "00" * 32}]}, r"proof\[0\]"),
        ({"proof": [{"left": "00" * 32, "right": "00" * 32}]}, r"proof\[0\]"),
        ({"proof": {}}, "array"),
        ({"node_id": 5}, "node_id"),
        ({"service_endorsements": "x"}, "service_endorsements"),
    ],
)
def test_malformed_members_are_named(changes: dict, message: str) -> None:
    with pytest.raises(MalformedReceiptError, match=message):
        parse_ccf_json_receipt(_edit(**changes))


def test_not_json() -> None:
    with pytest.raises(MalformedReceiptError, match="not JSON"):
        parse_ccf_json_receipt(b"{")
    with pytest.raises(MalformedReceiptError, match="JSON object"):
        parse_ccf_json_receipt(b"[]")


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_receipts_raise_only_scitt_errors(data: st.DataObject) -> None:
    raw = bytearray(RECEIPT)
    for _ in range(data.draw(st.integers(1, 3))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    with contextlib.suppress(ScittError):
        root, checks = check_ccf_json_receipt(parse_ccf_json_receipt(bytes(raw)), None)
        if root.hex() != ROOT:
            assert statuses(checks)["signature"] == "failed"
