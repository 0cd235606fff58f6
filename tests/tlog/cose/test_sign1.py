"""tlog.cose: strict COSE_Sign1 decoding, Sig_structure, detached payloads, every algorithm."""

from __future__ import annotations

import contextlib

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.tlog.scitt.builders import sign1, signer
from tests.vectors import VECTORS_DIR
from tlog.cose import cbor
from tlog.cose import headers as h
from tlog.cose.errors import (
    CoseError,
    CoseSignatureError,
    MalformedCoseError,
    UnsupportedCoseAlgorithmError,
)
from tlog.cose.keys import load_certificate
from tlog.cose.sign1 import decode_sign1

STATEMENTS = [
    VECTORS_DIR / "scitt-esrp-cts-transparent-statement" / "uvm_0.2.10.cose",
    VECTORS_DIR / "scitt-ccf-ledger-signed-statements" / "manifest.spdx.json.sha384.digest.cose",
    VECTORS_DIR / "scitt-ccf-ledger-signed-statements" / "cts-hashv-cwtclaims-b64url.cose",
]
ALGS = [-7, -35, -36, -8, -37, -38, -39, -257]


@pytest.mark.parametrize("path", STATEMENTS, ids=lambda p: p.name)
def test_real_statements_verify_with_their_x5chain_leaf(path) -> None:
    s = decode_sign1(path.read_bytes())
    leaf = load_certificate(h.x5chain(s.header(h.X5CHAIN))[0], "leaf")
    s.verify(leaf.public_key())
    assert s.alg in (-37, -38)


@pytest.mark.parametrize("path", STATEMENTS, ids=lambda p: p.name)
def test_real_statement_with_flipped_signature_byte_fails(path) -> None:
    s = decode_sign1(path.read_bytes())
    leaf = load_certificate(h.x5chain(s.header(h.X5CHAIN))[0], "leaf")
    sig = bytearray(s.signature)
    sig[10] ^= 1
    item = [s.protected_bytes, dict(s.unprotected), s.payload, bytes(sig)]
    bad = decode_sign1(cbor2.dumps(cbor2.CBORTag(18, item)))
    with pytest.raises(CoseSignatureError, match="does not verify"):
        bad.verify(leaf.public_key())


@pytest.mark.parametrize("alg", ALGS)
def test_every_algorithm_attached_and_detached(alg: int) -> None:
    s = signer(alg)
    attached = decode_sign1(sign1(s, {}, {}, b"payload"))
    attached.verify(s.public)
    detached = decode_sign1(sign1(s, {}, {}, None, detached=b"root" * 8))
    detached.verify(s.public, b"root" * 8)
    with pytest.raises(CoseSignatureError):
        detached.verify(s.public, b"toor" * 8)
    with pytest.raises(MalformedCoseError, match="detached"):
        detached.verify(s.public)
    with pytest.raises(MalformedCoseError, match="attached"):
        attached.verify(s.public, b"payload")


def test_wrong_key_type_or_curve_is_unsupported_not_a_pass() -> None:
    p256, p384, ed = signer(-7), signer(-35), signer(-8)
    msg = decode_sign1(sign1(p256, {}, {}, b"x"))
    with pytest.raises(UnsupportedCoseAlgorithmError, match="secp256r1"):
        msg.verify(p384.public)
    with pytest.raises(UnsupportedCoseAlgorithmError, match="EC secp256r1 key, got Ed25519"):
        msg.verify(ed.public)
    with pytest.raises(UnsupportedCoseAlgorithmError, match="not supported"):
        decode_sign1(sign1(Unknown(), {}, {}, b"x")).verify(p256.public)


class Unknown:
    alg = -65535

    def sign(self, message: bytes) -> bytes:
        return b"\x00" * 64


def test_ecdsa_signature_of_wrong_length_says_so() -> None:
    s = signer(-7)
    item = list(cbor2.loads(sign1(s, {}, {}, b"x")).value)
    item[3] = item[3][:-1]
    with pytest.raises(CoseSignatureError, match="63 bytes, want 64"):
        decode_sign1(cbor2.dumps(cbor2.CBORTag(18, item))).verify(s.public)


def _prot(m: dict) -> bytes:
    return cbor2.dumps(m)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (cbor2.dumps(cbor2.CBORTag(17, [b"", {}, None, b""])), "tag 17 is not COSE_Sign1"),
        (cbor2.dumps([b"", {}, None]), "array of 4"),
        (cbor2.dumps([b"", {}, None, b""]) + b"\x00", "1 bytes after"),
        (b"\x9f\x40\xa0\xf6\x40\xff", "indefinite"),
        (cbor2.dumps([_prot({1: -7}), {1: -7}, None, b""]), "both protected and unprotected"),
        (cbor2.dumps([b"", {1: -7}, None, b""]), r"alg \(1\) must be in the protected"),
        (cbor2.dumps([_prot([1]), {}, None, b""]), "protected header must be a map"),
        (cbor2.dumps(["x", {}, None, b""]), "protected header must be a byte string"),
        (cbor2.dumps([b"", [], None, b""]), "unprotected header must be a map"),
        (cbor2.dumps([b"", {}, "text", b""]), "payload must be a byte string or nil"),
        (cbor2.dumps([b"", {}, None, "sig"]), "signature must be a byte string"),
        (cbor2.dumps([b"", {1.5: 1}, None, b""]), "not int/tstr"),
        (b"\x84\x40\xa2\x01\x01\x01\x02\xf6\x40", "not valid CBOR"),
        (b"\x81" * 40 + b"\x00", "not valid CBOR"),
    ],
)
def test_malformed_sign1_is_rejected_precisely(data: bytes, message: str) -> None:
    with pytest.raises(MalformedCoseError, match=message):
        decode_sign1(data)


def test_tag_required_when_asked() -> None:
    with pytest.raises(MalformedCoseError, match="must be tagged"):
        decode_sign1(cbor2.dumps([b"", {}, None, b""]), require_tag=True)


def test_size_bound() -> None:
    with pytest.raises(MalformedCoseError, match="more than the 10 allowed"):
        cbor.decode(b"\x00" * 11, "thing", max_size=10)


def test_semantic_tags_stay_raw() -> None:
    item = cbor.decode(cbor2.dumps(cbor2.CBORTag(1, 0)), "x")
    assert isinstance(item, cbor2.CBORTag) and item.tag == 1


def test_encode_replaces_only_the_unprotected_header() -> None:
    original = STATEMENTS[0].read_bytes()
    s = decode_sign1(original)
    again = decode_sign1(s.encode())
    assert again == s
    bare = decode_sign1(s.encode({}))
    assert bare.unprotected == {} and bare.protected_bytes == s.protected_bytes


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_cose_errors(data: bytes) -> None:
    with contextlib.suppress(CoseError):
        decode_sign1(data)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_statements_raise_only_cose_errors(data: st.DataObject) -> None:
    raw = bytearray(data.draw(st.sampled_from(STATEMENTS)).read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    try:
        s = decode_sign1(bytes(raw))
        h.x5chain(s.header(h.X5CHAIN))
        h.cwt_claims(s.header(h.CWT_CLAIMS))
        h.header_kid(s.header(h.KID))
    except CoseError:
        pass
