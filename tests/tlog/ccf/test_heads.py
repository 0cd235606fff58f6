"""CCF COSE-signed roots as checkpoint notes: the 0xff ccf-cose-root note signature type."""

from __future__ import annotations

import base64
import hashlib

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from tests.tlog.ccf.vectors import chunk_files
from tlog.ccf.errors import NoSignedHeadError
from tlog.ccf.heads import checkpoint_note, latest_cose_root, service_verifier
from tlog.ccf.signatures import spki
from tlog.ccf.verify import verify_chunks
from tlog.checkpoint import Checkpoint, open_checkpoint
from tlog.errors import InvalidSignatureError
from tlog.keys import (
    ALG_EXTENDED,
    CCF_COSE_ROOT_ID,
    CcfCoseVerifier,
    ccf_cose_signature,
    generate_signer,
    key_id,
    parse_vkey,
)
from tlog.note import Note, Signature

ORIGIN = "cts-canary.confidential-ledger.azure.com"
REPORT = verify_chunks(chunk_files("cts-canary"))


def _verifier() -> CcfCoseVerifier:
    return service_verifier(ORIGIN, REPORT.signed_roots[-1].service_cert)


def test_every_cose_root_becomes_a_note_a_vkey_alone_verifies() -> None:
    vkey = _verifier().vkey()
    parsed = parse_vkey(vkey)
    assert isinstance(parsed, CcfCoseVerifier) and parsed.vkey() == vkey
    for root in REPORT.signed_roots:
        note = checkpoint_note(ORIGIN, root, parsed).to_bytes()
        signed = open_checkpoint(note, [parse_vkey(vkey)])
        assert signed.checkpoint == Checkpoint(ORIGIN, root.seqno, root.root)


def test_vkey_encoding_and_key_id() -> None:
    v = _verifier()
    name, hex8, b64 = v.vkey().split("+", 2)
    raw = base64.b64decode(b64)
    assert name == ORIGIN and raw[0] == ALG_EXTENDED
    assert raw[1:].startswith(CCF_COSE_ROOT_ID)
    service_spki = spki(REPORT.service_cert)
    assert raw[1 + len(CCF_COSE_ROOT_ID) :] == service_spki
    want = hashlib.sha256(
        ORIGIN.encode() + b"\n" + b"\xff" + CCF_COSE_ROOT_ID + service_spki
    ).digest()[:4]
    assert (
        int(hex8, 16)
        == int.from_bytes(want, "big")
        == key_id(ORIGIN, 0xFF, CCF_COSE_ROOT_ID + service_spki)
    )


def _signature(root_index: int = -1) -> tuple[bytes, bytes]:
    cose = REPORT.signed_roots[root_index].cose
    assert cose is not None
    return cose.sign1.protected_bytes, cose.sign1.signature


def _text(size: int, root: bytes, origin: str = ORIGIN, ext: str = "") -> bytes:
    return (Checkpoint(origin, size, root).body() + ext).encode()


def test_verifier_rejects_everything_the_signature_does_not_bind() -> None:
    v = _verifier()
    last = REPORT.signed_roots[-1]
    prot, sig = _signature()
    good = ccf_cose_signature(prot, sig)
    assert v.verify(_text(last.size, last.root), good)
    # The origin is not signed: the same signature under another key name still verifies,
    # which is why the origin must equal the key name (a witness trusts a name, not a key).
    assert CcfCoseVerifier("other.example", v.spki).verify(
        _text(last.size, last.root, "other.example"), good
    )
    bad_root = bytes([last.root[0] ^ 1]) + last.root[1:]
    cases = {
        "root": _text(last.size, bad_root),
        "size (txid seqno)": _text(last.size - 1, last.root),
        "origin": _text(last.size, last.root, "evil.example"),
        "extension line": _text(last.size, last.root, ext="extra\n"),
        "not a checkpoint": b"hello\n",
    }
    for what, text in cases.items():
        assert not v.verify(text, good), what
    flipped = bytearray(good)
    flipped[-1] ^= 1
    assert not v.verify(_text(last.size, last.root), bytes(flipped))
    assert not v.verify(_text(last.size, last.root), good[:1])
    assert not v.verify(_text(last.size, last.root), b"\x00\x00" + sig)
    assert not v.verify(_text(last.size, last.root), b"\xff\xff" + prot)
    # An earlier root's header names another txid: wrong for this size.
    prot2, sig2 = _signature(0)
    assert not v.verify(_text(last.size, last.root), ccf_cose_signature(prot2, sig2))


def _fresh_signature(key: ec.EllipticCurvePrivateKey, root: bytes, header: dict) -> bytes:
    prot = cbor2.dumps(header)
    tbs = cbor2.dumps(["Signature1", prot, b"", root])
    r, s = decode_dss_signature(key.sign(tbs, ec.ECDSA(hashes.SHA384())))
    return ccf_cose_signature(prot, r.to_bytes(48, "big") + s.to_bytes(48, "big"))


def test_header_rules_with_a_fresh_key() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    spki_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    v = CcfCoseVerifier(ORIGIN, spki_der)
    root = hashlib.sha256(b"root").digest()
    kid = hashlib.sha256(spki_der).hexdigest().encode()
    base = {1: -35, 4: kid, 395: 2, "ccf.v1": {"txid": "3.42"}}
    assert v.verify(_text(42, root), _fresh_signature(key, root, base))
    assert v.verify(
        _text(42, root), _fresh_signature(key, root, {k: base[k] for k in (1, 395, "ccf.v1")})
    )
    for what, header in {
        "kid of another key": {**base, 4: b"00" * 32},
        "vds": {**base, 395: 1},
        "no vds": {k: base[k] for k in (1, 4, "ccf.v1")},
        "txid seqno": {**base, "ccf.v1": {"txid": "3.41"}},
        "txid shape": {**base, "ccf.v1": {"txid": "42"}},
        "no ccf.v1": {k: base[k] for k in (1, 4, 395)},
        "alg for another curve": {**base, 1: -7},
    }.items():
        assert not v.verify(_text(42, root), _fresh_signature(key, root, header)), what


def test_a_forged_note_is_rejected_by_open_checkpoint() -> None:
    v = _verifier()
    last = REPORT.signed_roots[-1]
    prot, sig = _signature()
    forged = Note(
        Checkpoint(ORIGIN, last.size, bytes(32)).body(),
        (Signature(v.name, v.key_id, ccf_cose_signature(prot, sig)),),
    )
    with pytest.raises(InvalidSignatureError):
        open_checkpoint(forged.to_bytes(), [v])


def test_ledgers_without_cose_signatures_have_no_head() -> None:
    report = verify_chunks(chunk_files("expired-service"))
    with pytest.raises(NoSignedHeadError, match=r"7 signed roots up to 2\.26, none with a COSE"):
        latest_cose_root(report)
    with pytest.raises(NoSignedHeadError, match="only a node signature"):
        checkpoint_note("x", report.signed_roots[-1], _verifier())


def test_tree_hash_rule_follows_the_key_type() -> None:
    from tlog.errors import UnsupportedAlgorithmError
    from tlog.keys import tree_hash_rule
    from tlog.merkle import CCF, RFC6962

    ed = generate_signer("log.example").verifier()
    assert tree_hash_rule([_verifier()]) is CCF
    assert tree_hash_rule([ed]) is RFC6962
    assert tree_hash_rule([]) is RFC6962
    with pytest.raises(UnsupportedAlgorithmError):
        tree_hash_rule([ed, _verifier()])
