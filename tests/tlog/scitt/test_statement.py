"""tlog.scitt.statement and trust_store: real transparent statements, own ones, tampering."""

from __future__ import annotations

import base64
import contextlib
import json

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.tlog.scitt import builders as b
from tests.vectors import VECTORS_DIR
from tlog.merkle import RFC6962, MemoryTree
from tlog.scitt.errors import (
    KeyUnavailableError,
    MalformedStatementError,
    ScittError,
    TrustStoreError,
)
from tlog.scitt.statement import verify_receipt_file, verify_statement
from tlog.scitt.trust_store import parse_trust_store

ESRP_DIR = VECTORS_DIR / "scitt-esrp-cts-transparent-statement"
UVM = (ESRP_DIR / "uvm_0.2.10.cose").read_bytes()
ESRP_STORE = parse_trust_store((ESRP_DIR / "esrp-cts-db.json").read_bytes(), "esrp-cts-db.json")
SIGNED = VECTORS_DIR / "scitt-ccf-ledger-signed-statements"
ROOT = "9a9b439497b18eed7d5a1f3177c3206cb221e12e46e6f66bac935c62053b0466"


def checks(report) -> dict[str, tuple[str, str]]:
    return {c.name: (c.status, c.detail) for c in report.checks}


def test_esrp_store_collapses_renewed_certificates_to_two_keys() -> None:
    kids = sorted(k.kid.decode() for k in ESRP_STORE.keys)
    assert len(kids) == 2 and kids[1].startswith("da7694f1")
    assert all(k.issuer is None for k in ESRP_STORE.keys)


def test_real_transparent_statement_verifies_end_to_end() -> None:
    report = verify_statement(UVM, ESRP_STORE)
    assert report.status == "ok"
    assert report.issuer.startswith("did:x509:0:sha256:I__iuL25") and report.alg == -38
    assert set(checks(report)) == {"x5t", "issuer signature", "issuer identity"}
    (r,) = report.receipts
    assert (r.service, r.tree_alg, r.alg) == (
        "esrp-cts-db.confidential-ledger.azure.com", "CCF_LEDGER_SHA256", -35,
    )  # fmt: skip
    assert r.signed_root.root.hex() == ROOT and r.signed_root.signature_checked
    assert [c.status for c in r.checks] == ["ok", "ok", "ok"]


def test_real_statement_without_its_service_key_names_the_kid() -> None:
    store = parse_trust_store(json.dumps({"keys": [b.jwk(b.signer(-35), "other")]}).encode(), "s")
    report = verify_statement(UVM, store)
    assert report.status == "unavailable"
    detail = dict((c.name, c.detail) for c in report.receipts[0].checks)["service key"]
    assert "no key for service 'esrp-cts-db.confidential-ledger.azure.com'" in detail
    assert "kid da7694f16def5a056ca96afb21e89a9450e4cc875e2de351da76d99544a3e849" in detail


def _tamper(data: bytes, find: bytes, offset: int = 0) -> bytes:
    i = data.index(find) + offset
    return data[:i] + bytes([data[i] ^ 1]) + data[i + 1 :]


def _receipt_of(data: bytes) -> bytes:
    return cbor2.loads(data).value[1][394][0]


def _replace_receipt(data: bytes, receipt: bytes) -> bytes:
    item = list(cbor2.loads(data).value)
    item[1] = {394: [receipt]}
    return cbor2.dumps(cbor2.CBORTag(18, item))


def test_flipped_byte_in_receipt_proof_is_a_failed_signature_over_another_root() -> None:
    receipt = _receipt_of(UVM)
    path_hash = cbor2.loads(cbor2.loads(receipt).value[1][396][-1][0])[2][0][1]
    bad = _replace_receipt(UVM, _tamper(receipt, path_hash, 5))
    report = verify_statement(bad, ESRP_STORE)
    assert report.status == "failed"
    status, detail = dict((c.name, (c.status, c.detail)) for c in report.receipts[0].checks)[
        "signature"
    ]
    assert status == "failed" and "ES384 signature does not verify" in detail
    assert ROOT not in detail


def test_flipped_byte_in_receipt_signature_fails() -> None:
    receipt = _receipt_of(UVM)
    sig = cbor2.loads(receipt).value[3]
    report = verify_statement(_replace_receipt(UVM, _tamper(receipt, sig, 7)), ESRP_STORE)
    assert report.status == "failed"
    assert report.receipts[0].checks[-1].status == "failed"
    assert f"over root {ROOT}" in report.receipts[0].checks[-1].detail


def test_flipped_byte_in_payload_fails_issuer_and_receipt() -> None:
    payload = cbor2.loads(UVM).value[2]
    report = verify_statement(_tamper(UVM, payload, 3), ESRP_STORE)
    assert report.status == "failed"
    assert checks(report)["issuer signature"][0] == "failed"
    proof = dict((c.name, (c.status, c.detail)) for c in report.receipts[0].checks)["proof"]
    assert proof[0] == "failed" and "is for data hash a60138fb" in proof[1]


def test_signed_statements_without_receipts_say_so() -> None:
    data = (SIGNED / "manifest.spdx.json.sha384.digest.cose").read_bytes()
    report = verify_statement(data, ESRP_STORE)
    assert report.status == "unavailable" and report.subject == "test.submission-1"
    assert checks(report)["issuer signature"][0] == "ok"
    assert checks(report)["issuer identity"][0] == "ok"
    assert "no receipts (394)" in checks(report)["receipts"][1]


def test_legacy_receipt_is_recognised_with_its_service_and_reason() -> None:
    data = (SIGNED / "cts-hashv-cwtclaims-b64url.cose").read_bytes()
    report = verify_statement(data, ESRP_STORE)
    assert report.status == "unavailable"
    (r,) = report.receipts
    assert r.service == "did:web:cts-poc.confidential-ledger.azure.com"
    assert "legacy scitt-ccf-ledger receipt" in r.checks[0].detail


def test_did_x509_with_a_wrong_fingerprint_fails_identity() -> None:
    item = list(cbor2.loads(UVM).value)
    protected = cbor2.loads(item[0])
    protected[15][1] = protected[15][1].replace("I__iuL25", "I__iuL26")
    item[0] = cbor2.dumps(protected)
    report = verify_statement(cbor2.dumps(cbor2.CBORTag(18, item)), ESRP_STORE)
    assert checks(report)["issuer identity"][0] == "failed"
    assert "matches no CA certificate" in checks(report)["issuer identity"][1]
    assert checks(report)["issuer signature"][0] == "failed"


def _own_store(issuer, service) -> bytes:
    return json.dumps(
        {
            "issuers": {
                "issuer.example": {"keys": [b.jwk(issuer, "issuer-key")]},
                b.ISSUER: {"keys": [b.jwk(service)]},
            }
        }
    ).encode()


def test_own_transparent_statement_with_two_receipts_and_the_project_store() -> None:
    issuer, service = b.signer(-8), b.signer(-7)
    signed = b.statement(issuer)
    tree = MemoryTree([RFC6962.leaf(b"%d" % i) for i in range(6)] + [RFC6962.leaf(signed)])
    r1 = b.rfc9162_inclusion_receipt(service, tree, 6, 7)
    leaves = [b.ccf_leaf(bytes(32), i) for i in range(4)]
    import hashlib

    leaves.append(b.ccf_leaf(hashlib.sha256(signed).digest(), 4))
    r2 = b.ccf_receipt(service, b.ccf_tree(leaves), leaves[4], 4, 5)
    store = parse_trust_store(_own_store(issuer, service), "own.json")
    report = verify_statement(b.with_receipts(signed, [r1, r2]), store)
    assert report.status == "ok", report.to_json()
    assert [r.tree_alg for r in report.receipts] == ["RFC9162_SHA256", "CCF_LEDGER_SHA256"]
    assert report.receipts[0].signed_root.root == tree.root(7)
    wrong = parse_trust_store(_own_store(b.signer(-8), service), "wrong.json")
    assert (
        checks(verify_statement(b.with_receipts(signed, [r1]), wrong))["issuer signature"][0]
        == "failed"
    )
    nostore = verify_statement(b.with_receipts(signed, [r1]), None)
    assert checks(nostore)["issuer key"][0] == "unavailable"


def test_detached_statement_payload() -> None:
    s = b.signer(-7)
    signed = b.sign1(s, {4: b"issuer-key", 15: {1: "issuer.example"}}, {}, None, detached=b"p")
    store = parse_trust_store(_own_store(s, s), "own.json")
    assert checks(verify_statement(signed, store))["issuer signature"][0] == "unavailable"
    assert checks(verify_statement(signed, store, b"p"))["issuer signature"][0] == "ok"
    assert checks(verify_statement(signed, store, b"q"))["issuer signature"][0] == "failed"


def test_bare_receipt_reports() -> None:
    draft = VECTORS_DIR / "cose-receipts-draft-examples"
    report = verify_receipt_file((draft / "inclusion-receipt.cbor").read_bytes(), None)
    assert report.status == "unavailable"
    assert "no entry or leaf hash" in report.checks[0].detail
    report = verify_receipt_file((draft / "consistency-receipt.cbor").read_bytes(), ESRP_STORE)
    assert [c.status for c in report.checks] == ["ok", "unavailable", "unavailable"]
    assert "kid test-key-1" in report.checks[1].detail


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (b"[", "not JSON"),
        (b"[]", "JSON object"),
        (b"{}", "exactly one of"),
        (b'{"keys": [], "issuers": {}}', "exactly one of"),
        (b'{"parameters": {}}', "parameters must be an array"),
        (b'{"parameters": [{"serviceCertificate": "!!"}]}', r"parameters\[0\]"),
        (b'{"parameters": [{"serviceCertificate": "AAAA", "treeAlgorithm": "X"}]}', "'X'"),
        (b'{"issuers": {"a": {"bogus": []}}}', "only 'keys' and 'certificates'"),
        (b'{"issuers": {"a": {"keys": [{"kty": "EC"}]}}}', r"issuers\['a'\].keys\[0\]"),
        (b'{"keys": [5]}', "must be an object"),
    ],
)
def test_trust_store_errors_name_the_entry(doc: bytes, message: str) -> None:
    with pytest.raises(TrustStoreError, match=message):
        parse_trust_store(doc, "store.json")


def test_trust_store_conflicting_kids_and_ambiguous_lookup() -> None:
    one, two = b.jwk(b.signer(-7), "k"), b.jwk(b.signer(-7), "k")
    with pytest.raises(TrustStoreError, match="different keys with kid k"):
        parse_trust_store(json.dumps({"keys": [one, two]}).encode(), "s")
    store = parse_trust_store(
        json.dumps({"keys": [b.jwk(b.signer(-7), "a"), b.jwk(b.signer(-7), "b")]}).encode(), "s"
    )
    with pytest.raises(KeyUnavailableError, match=r"2 keys .* cannot choose"):
        store.lookup("x", None, "service")
    cert = (ESRP_DIR / "esrp-cts-db.json").read_text()
    der = json.loads(cert)["parameters"][0]["serviceCertificate"]
    pem = "-----BEGIN CERTIFICATE-----\n" + der + "\n-----END CERTIFICATE-----\n"
    store = parse_trust_store(
        json.dumps({"issuers": {"a": {"certificates": [der, pem]}}}).encode(), "s"
    )
    assert len(store.keys) == 1 and store.lookup("a", None, "service").issuer == "a"
    with pytest.raises(KeyUnavailableError, match="no key for service 'b'"):
        store.lookup("b", None, "service")
    assert base64.b64decode(der)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00", "array of 4"),
        (cbor2.dumps(cbor2.CBORTag(18, [cbor2.dumps({1: -7}), {394: []}, b"", b""])), "non-empty"),
        (cbor2.dumps(cbor2.CBORTag(18, [cbor2.dumps({1: -7, 394: [b""]}), {}, b"", b""])),
         "unprotected"),
        (cbor2.dumps(cbor2.CBORTag(18, [cbor2.dumps({1: -7}), {394: [b""] * 17}, b"", b""])),
         "at most 16"),
    ],
)  # fmt: skip
def test_malformed_statements(data: bytes, message: str) -> None:
    with pytest.raises(MalformedStatementError, match=message):
        verify_statement(data, None)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_statements_give_reports_or_scitt_errors(data: st.DataObject) -> None:
    raw = bytearray(UVM)
    for _ in range(data.draw(st.integers(1, 3))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    with contextlib.suppress(ScittError):
        report = verify_statement(bytes(raw), ESRP_STORE)
        assert report.status in ("ok", "failed", "malformed", "unavailable")
        if bytes(raw) != UVM:
            assert report.status != "ok" or _only_unsigned_bytes_changed(bytes(raw))


def _only_unsigned_bytes_changed(raw: bytes) -> bool:
    """A mutation may hit bytes no check covers (e.g. CBOR re-encoded identically)."""
    return cbor2.loads(raw) == cbor2.loads(UVM)


@settings(max_examples=200)
@given(st.binary(max_size=2000))
def test_random_trust_stores_raise_only_trust_store_errors(data: bytes) -> None:
    with contextlib.suppress(TrustStoreError):
        parse_trust_store(data, "fuzz")
