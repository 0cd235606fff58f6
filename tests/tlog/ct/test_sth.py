"""RFC 6962 signed tree heads: get-sth JSON, signatures (ECDSA, RSA), checkpoint form."""

from __future__ import annotations

import base64
import contextlib
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from hypothesis import given
from hypothesis import strategies as st

from tests.tlog.ct.helpers import ct_signer
from tests.vectors import load
from tlog.checkpoint import open_checkpoint
from tlog.ct.errors import CTFormatError
from tlog.ct.sth import (
    HASH_SHA256,
    SIG_RSA,
    DigitallySigned,
    SignedTreeHead,
    parse_digitally_signed,
    parse_sth_json,
    sth_from_note_signature,
    sth_to_checkpoint,
    tree_head_input,
    verify_sth,
)
from tlog.errors import InvalidSignatureError, TlogError
from tlog.keys import RFC6962Verifier, parse_vkey
from tlog.note import parse_note

V = load("static-ct-rfc6962-notes.txt")


def test_argon2024_sth_converts_to_a_checkpoint_its_vkey_verifies() -> None:
    sth = parse_sth_json(V["argon2024-get-sth-json"])
    verifier = parse_vkey(V.line("vkey-argon2024"))
    assert isinstance(verifier, RFC6962Verifier)
    signed = sth_to_checkpoint(sth, verifier)
    assert signed.checkpoint.origin == "ct.googleapis.com/logs/us1/argon2024"
    assert signed.checkpoint.size == 1267285836
    # The note stands on its own: a fresh parse verifies with the published vkey.
    again = open_checkpoint(signed.note.to_bytes(), [verifier])
    assert again.checkpoint == signed.checkpoint


def test_rome_checkpoint_round_trips_byte_for_byte_through_its_sth() -> None:
    note_bytes = V["checkpoint-rome"]
    note = parse_note(note_bytes)
    sth = sth_from_note_signature(note.text, note.signatures[0].signature)
    verifier = parse_vkey(V.line("vkey-rome"))
    assert isinstance(verifier, RFC6962Verifier)
    assert sth_to_checkpoint(sth, verifier).note.to_bytes() == note_bytes
    assert parse_sth_json(sth.to_json()) == sth
    verify_sth(sth, base64.b64decode(V.line("rome-spki-der-b64")))


def test_a_tampered_sth_is_rejected() -> None:
    doc = json.loads(V["argon2024-get-sth-json"])
    doc["tree_size"] += 1
    sth = parse_sth_json(json.dumps(doc))
    verifier = parse_vkey(V.line("vkey-argon2024"))
    assert isinstance(verifier, RFC6962Verifier)
    with pytest.raises(InvalidSignatureError):
        sth_to_checkpoint(sth, verifier)


def test_rsa_tree_heads_verify() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    root = bytes(range(32))
    sig = key.sign(tree_head_input(123, 45, root), padding.PKCS1v15(), hashes.SHA256())
    sth = SignedTreeHead(45, 123, root, DigitallySigned(HASH_SHA256, SIG_RSA, sig))
    verify_sth(sth, spki)
    bad = SignedTreeHead(46, 123, root, sth.signature)
    with pytest.raises(InvalidSignatureError):
        verify_sth(bad, spki)


def test_signer_heads_and_checkpoint_signatures_verify() -> None:
    signer = ct_signer("ct.test/log")
    sth = signer.sign_tree_head(10, bytes(32))
    signed = sth_to_checkpoint(sth, signer.verifier())
    assert signed.checkpoint.size == 10
    assert parse_vkey(signer.vkey()) == signer.verifier()
    other = ct_signer("ct.test/log", seed=6)
    with pytest.raises(InvalidSignatureError):
        sth_to_checkpoint(sth, other.verifier())


GOOD = json.loads(V["argon2024-get-sth-json"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"extra": 1}, "unknown keys"),
        ({"tree_size": True}, "tree_size"),
        ({"tree_size": -1}, "tree_size"),
        ({"timestamp": 1.5}, "timestamp"),
        ({"sha256_root_hash": "AAAA"}, "3 bytes"),
        ({"sha256_root_hash": "not base64!"}, "base64"),
        ({"tree_head_signature": "BQMAAA=="}, "hash algorithm"),
        ({"tree_head_signature": "BAMAAA=="}, "signature is 0 bytes"),
    ],
)
def test_strict_get_sth_parse(change: dict[str, object], message: str) -> None:
    with pytest.raises(CTFormatError, match=message):
        parse_sth_json(json.dumps({**GOOD, **change}))


def test_duplicate_keys_and_non_objects_are_rejected() -> None:
    body = V.text("argon2024-get-sth-json").strip()
    with pytest.raises(CTFormatError, match="duplicate"):
        parse_sth_json(body[:-1] + ', "tree_size": 1}')
    with pytest.raises(CTFormatError, match="object"):
        parse_sth_json("[]")
    with pytest.raises(CTFormatError, match="missing"):
        parse_sth_json("{}")


@given(st.binary(max_size=300))
def test_digitally_signed_parse_raises_only_format_errors(data: bytes) -> None:
    try:
        ds = parse_digitally_signed(data)
    except CTFormatError:
        return
    assert ds.encode() == data


@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_get_sth_parse_raises_only_format_errors(data: bytes | str) -> None:
    with contextlib.suppress(CTFormatError):
        parse_sth_json(data)


@given(
    st.integers(0, (1 << 63) - 1),
    st.integers(0, (1 << 64) - 1),
    st.binary(min_size=32, max_size=32),
    st.sampled_from([1, 3]),
    st.binary(min_size=1, max_size=600),
)
def test_sth_json_round_trips(size: int, ts: int, root: bytes, alg: int, sig: bytes) -> None:
    sth = SignedTreeHead(size, ts, root, DigitallySigned(HASH_SHA256, alg, sig))
    assert parse_sth_json(sth.to_json()) == sth


@given(st.binary(max_size=200))
def test_note_signature_parse_raises_only_tlog_errors(sig: bytes) -> None:
    text = "ct.test/log\n5\n" + base64.b64encode(bytes(32)).decode() + "\n"
    with contextlib.suppress(TlogError):
        sth_from_note_signature(text, sig)


def test_ecdsa_key_must_be_p256() -> None:
    from tlog.ct.sth import CTLogSigner

    with pytest.raises(TlogError, match="P-256"):
        CTLogSigner("x", ec.generate_private_key(ec.SECP384R1()))
