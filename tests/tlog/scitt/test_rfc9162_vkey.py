"""tlog.keys.CoseRfc9162Verifier: RFC9162_SHA256 receipt signatures as note signatures."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.tlog.scitt import builders as b
from tlog.checkpoint import Checkpoint, open_checkpoint
from tlog.cose.keys import spki_der
from tlog.errors import InvalidSignatureError, MalformedKeyError, UnsupportedAlgorithmError
from tlog.keys import (
    ALG_EXTENDED,
    COSE_RFC9162_ROOT_ID,
    CoseRfc9162Verifier,
    encode_vkey,
    key_id,
    parse_vkey,
    tree_hash_rule,
)
from tlog.merkle import RFC6962, MemoryTree
from tlog.scitt.checkpoint import receipt_to_checkpoint, signature_blob
from tlog.scitt.receipt import parse_receipt, verify_inclusion_receipt

SIGNER = b.signer(-7)
TREE = MemoryTree([RFC6962.leaf(b"entry %d" % i) for i in range(11)])


def note_of(receipt_bytes: bytes, v: CoseRfc9162Verifier, index: int = 10) -> bytes:
    receipt = parse_receipt(receipt_bytes)
    signed = verify_inclusion_receipt(receipt, None, entry=b"entry %d" % index)
    return receipt_to_checkpoint(receipt, signed, v.name, [(v.name, v.key_id)])


@pytest.mark.parametrize("alg", [-7, -35, -36, -8, -257, -37])
def test_vkey_round_trips_and_verifies_each_key_type(alg: int) -> None:
    s = b.signer(alg)
    v = b.root_verifier(s)
    parsed = parse_vkey(v.vkey())
    assert isinstance(parsed, CoseRfc9162Verifier)
    assert (parsed.name, parsed.kid, parsed.spki, parsed.key_id) == (
        v.name,
        s.kid,
        v.spki,
        v.key_id,
    )
    note = note_of(b.rfc9162_inclusion_receipt(s, TREE, 10, 11), parsed)
    cp = open_checkpoint(note, [parsed]).checkpoint
    assert (cp.origin, cp.size, cp.root) == (b.ISSUER, 11, TREE.root(11))


def test_key_id_covers_identifier_kid_and_key() -> None:
    v = b.root_verifier(SIGNER, "svc")
    material = COSE_RFC9162_ROOT_ID + bytes([len(SIGNER.kid)]) + SIGNER.kid + v.spki
    assert v.key_id == key_id("svc", ALG_EXTENDED, material)
    assert CoseRfc9162Verifier("svc", b"other", v.spki).key_id != v.key_id
    assert tree_hash_rule([v]) is RFC6962


def test_vds_2_receipts_and_other_kids_are_refused() -> None:
    v = b.root_verifier(SIGNER)
    ccf = parse_receipt(b.ccf_receipt(SIGNER, b.ccf_tree([b.ccf_leaf(bytes(32), 1)] * 3),
                                      b.ccf_leaf(bytes(32), 1), 0, 3))  # fmt: skip
    text = Checkpoint(v.name, 3, bytes(32)).body().encode()
    assert not v.verify(text, signature_blob(ccf))
    good = b.rfc9162_inclusion_receipt(SIGNER, TREE, 10, 11)
    for other in (CoseRfc9162Verifier(v.name, b"k2", v.spki), b.root_verifier(b.signer(-7))):
        with pytest.raises(InvalidSignatureError):
            open_checkpoint(note_of(good, other), [other])
    no_kid = b.sign1(SIGNER, {395: 1, 15: {1: b.ISSUER}},
                     {396: {-1: [_proof(10, 11)]}}, None, detached=TREE.root(11))  # fmt: skip
    with pytest.raises(InvalidSignatureError):
        open_checkpoint(note_of(no_kid, v), [v])


def test_wrong_root_size_origin_or_extension_is_refused() -> None:
    v = b.root_verifier(SIGNER)
    blob = signature_blob(parse_receipt(b.rfc9162_inclusion_receipt(SIGNER, TREE, 10, 11)))
    assert v.verify(Checkpoint(v.name, 11, TREE.root(11)).body().encode(), blob)
    for cp in (
        Checkpoint(v.name, 11, TREE.root(10)),
        Checkpoint("elsewhere", 11, TREE.root(11)),
        Checkpoint(v.name, 11, TREE.root(11), ("ext line",)),
    ):
        assert not v.verify(cp.body().encode(), blob)
    # The size is not signed: a note claiming another size with the same root verifies,
    # and no RFC 6962 tree of another size has that root (leaves and nodes are separated).
    assert v.verify(Checkpoint(v.name, 12, TREE.root(11)).body().encode(), blob)


@given(st.binary(max_size=300))
def test_arbitrary_signature_bytes_never_verify_or_raise(blob: bytes) -> None:
    v = b.root_verifier(SIGNER)
    assert not v.verify(Checkpoint(v.name, 11, TREE.root(11)).body().encode(), blob)


@given(st.binary(max_size=80))
def test_malformed_key_material_is_a_precise_error(rest: bytes) -> None:
    vkey = encode_vkey("svc", 1, ALG_EXTENDED, COSE_RFC9162_ROOT_ID + rest)
    with pytest.raises((MalformedKeyError, UnsupportedAlgorithmError)):
        parse_vkey(vkey)


def test_bad_keys_say_what_is_wrong() -> None:
    spki = spki_der(SIGNER.public)
    with pytest.raises(MalformedKeyError, match="kid"):
        CoseRfc9162Verifier("svc", b"", spki)
    with pytest.raises(MalformedKeyError, match="no complete kid"):
        parse_vkey(encode_vkey("svc", 1, ALG_EXTENDED, COSE_RFC9162_ROOT_ID + b"\x09abc"))
    v = b.root_verifier(SIGNER, "svc")
    wrong_id = v.vkey().replace(f"+{v.key_id:08x}+", "+00000000+")
    with pytest.raises(MalformedKeyError, match="does not match"):
        parse_vkey(wrong_id)


def _proof(index: int, size: int) -> bytes:
    import cbor2

    return cbor2.dumps([size, index, TREE.inclusion_proof(index, size)])
