"""Witness cosignatures (tlog.cosignature): Ed25519 cosignature/v1 and ML-DSA-44 subtree/v1."""

from __future__ import annotations

import base64
import struct

import pytest

from tests.vectors import load
from tlog.checkpoint import Checkpoint
from tlog.cosignature import (
    MAX_TIMESTAMP,
    MLDSA44_PUBLIC_KEY_SIZE,
    MLDSA44_SIGNATURE_SIZE,
    CosignatureV1Signer,
    CosignatureV1Verifier,
    MLDSA44CosignatureSigner,
    MLDSA44CosignatureVerifier,
    cosignature_timestamp,
    cosignature_v1_message,
    parse_cosigner_vkey,
    subtree_v1_message,
)
from tlog.errors import (
    CheckpointError,
    InvalidSignatureError,
    MalformedKeyError,
    UnsupportedAlgorithmError,
    UnverifiedNoteError,
)
from tlog.keys import (
    ALG_COSIGNATURE_V1,
    ALG_ED25519,
    Ed25519Signer,
    encode_vkey,
    key_id,
    parse_vkey,
    split_key,
)
from tlog.note import Note, Signature, parse_note, sign_note, verify_note

LOG = Ed25519Signer("example.com/log", bytes(32))
WITNESS_KEY = Ed25519Signer("example.com/witness", bytes([7]) * 32)
CHECKPOINT = Checkpoint("example.com/log", 42, bytes(range(32)), ("ext one",))
BODY = CHECKPOINT.body()


def cosigned(*signers: object) -> Note:
    return sign_note(BODY, [LOG, *signers])  # type: ignore[list-item]


# --- Ed25519 cosignature/v1 ---------------------------------------------------


def test_spec_signed_message_and_timestamp() -> None:
    spec = load("c2sp-spec-examples.txt")
    note = parse_note(spec["tlog-cosignature-example"])
    message = cosignature_v1_message(note.text.encode(), 1679315147)
    assert message == spec["cosignature-v1-signed-message-example"]
    assert cosignature_timestamp(note.signatures[1]) == 1679315147


def test_type_01_witness_vkey_gets_0x04_key_id() -> None:
    aw = load("armored-witness-cosigned-checkpoints.txt")
    (vkey,) = (v for v in aw.lines("armored-witness-prod-vkeys") if "small-breeze" in v)
    assert parse_vkey(vkey).key_id == 0x7B3ADA3A
    cosigner = parse_cosigner_vkey(vkey)
    assert isinstance(cosigner, CosignatureV1Verifier)
    assert cosigner.key_id == 0x9D1AB951
    assert cosigner.vkey().startswith("ArmoredWitness-small-breeze+9d1ab951+B")
    assert parse_vkey(cosigner.vkey()) == cosigner
    assert parse_cosigner_vkey(cosigner.vkey()) == cosigner


@pytest.mark.parametrize("section", ["pixel-611", "aw-ftlog-ci-3-59"])
def test_armored_witness_cosignatures(section: str) -> None:
    aw = load("armored-witness-cosigned-checkpoints.txt")
    note = parse_note(aw[section])
    witnesses = {
        v.key_id: v for v in map(parse_cosigner_vkey, aw.lines("armored-witness-prod-vkeys"))
    }
    for sig in note.signatures[1:]:
        assert witnesses[sig.key_id].verify(note.text.encode(), sig.signature)
        assert 1_700_000_000 < cosignature_timestamp(sig) < 1_800_000_000


@pytest.mark.parametrize(
    ("vkey", "error"),
    [
        (encode_vkey("w", 0, ALG_ED25519, bytes(32)), MalformedKeyError),
        # A type 0x01 vkey must carry its 0x01 key ID, not the 0x04 one.
        (encode_vkey("w", key_id("w", 4, bytes(32)), ALG_ED25519, bytes(32)), MalformedKeyError),
        (encode_vkey("w", key_id("w", 1, bytes(32)), 4, bytes(32)), MalformedKeyError),
        (
            load("armored-witness-cosigned-checkpoints.txt").line("pixel-log-vkey"),
            UnsupportedAlgorithmError,
        ),
        (load("static-ct-rfc6962-notes.txt").line("vkey-rome"), UnsupportedAlgorithmError),
        ("not a vkey", MalformedKeyError),
    ],
)
def test_bad_cosigner_vkeys(vkey: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_cosigner_vkey(vkey)


def test_ed25519_cosignature_round_trip() -> None:
    signer = CosignatureV1Signer(WITNESS_KEY, clock=lambda: 1234.9)
    note = parse_note(cosigned(signer).to_bytes())
    assert cosignature_timestamp(note.signatures[1]) == 1234
    assert signer.key_id == key_id(WITNESS_KEY.name, ALG_COSIGNATURE_V1, WITNESS_KEY.public)
    assert signer.key_id != WITNESS_KEY.key_id
    verifier = parse_cosigner_vkey(signer.vkey())
    assert verify_note(note, [LOG.verifier(), verifier]) == [LOG.verifier(), verifier]
    # The plain Ed25519 key (type 0x01) does not match cosignature lines: they are ignored.
    with pytest.raises(UnverifiedNoteError):
        verify_note(note, [WITNESS_KEY.verifier()])


def test_ed25519_cosignature_covers_timestamp_and_extensions() -> None:
    signer = CosignatureV1Signer(WITNESS_KEY)
    sig = signer.sign_at(BODY.encode(), 1000)
    verifier = signer.verifier()
    assert verifier.verify(BODY.encode(), sig)
    assert not verifier.verify(BODY.encode(), (1001).to_bytes(8, "big") + sig[8:])
    other = Checkpoint(CHECKPOINT.origin, 42, CHECKPOINT.root, ("ext two",)).body().encode()
    assert not verifier.verify(other, sig)
    assert not verifier.verify(BODY.encode(), sig[:-1])
    # A plain Ed25519 signature over the body is not a cosignature.
    assert not verifier.verify(BODY.encode(), bytes(8) + WITNESS_KEY.sign(BODY.encode()))


def test_ed25519_cosignature_timestamp_bounds() -> None:
    signer = CosignatureV1Signer(WITNESS_KEY)
    sig = signer.sign_at(BODY.encode(), MAX_TIMESTAMP)
    assert signer.verifier().verify(BODY.encode(), sig)
    too_late = (MAX_TIMESTAMP + 1).to_bytes(8, "big")
    raw = WITNESS_KEY.sign_raw(cosignature_v1_message(BODY.encode(), MAX_TIMESTAMP + 1))
    assert not signer.verifier().verify(BODY.encode(), too_late + raw)
    for bad in (-1, MAX_TIMESTAMP + 1):
        with pytest.raises(ValueError, match="out of range"):
            signer.sign_at(BODY.encode(), bad)


def test_tampered_ed25519_cosignature_rejects_note() -> None:
    signer = CosignatureV1Signer(WITNESS_KEY)
    note = cosigned(signer)
    sig = note.signatures[1]
    bad = Signature(sig.name, sig.key_id, sig.signature[:-1] + bytes([sig.signature[-1] ^ 1]))
    tampered = Note(note.text, (note.signatures[0], bad))
    with pytest.raises(InvalidSignatureError, match=WITNESS_KEY.name):
        verify_note(parse_note(tampered.to_bytes()), [LOG.verifier(), signer.verifier()])


# --- ML-DSA-44 subtree/v1 -----------------------------------------------------

MLDSA = MLDSA44CosignatureSigner("example.com/pq-witness", bytes([9]) * 32, clock=lambda: 5678)


def test_mldsa_round_trip() -> None:
    assert len(MLDSA.public) == MLDSA44_PUBLIC_KEY_SIZE
    note = parse_note(cosigned(MLDSA).to_bytes())
    sig = note.signatures[1]
    assert len(sig.signature) == 8 + MLDSA44_SIGNATURE_SIZE
    assert cosignature_timestamp(sig) == 5678
    verifier = parse_vkey(MLDSA.verifier().vkey())
    assert verifier == MLDSA.verifier() == parse_cosigner_vkey(MLDSA.verifier().vkey())
    assert verify_note(note, [verifier]) == [verifier]


def test_mldsa_vkey_round_trip() -> None:
    vkey = MLDSA.verifier().vkey()
    p = split_key(vkey, "vkey")
    assert (p.name, p.key_id, p.alg, p.material) == (MLDSA.name, MLDSA.key_id, 0x06, MLDSA.public)
    assert p.key_id == key_id(MLDSA.name, 0x06, MLDSA.public)
    assert base64.b64decode(vkey.split("+", 2)[2])[0] == 0x06
    with pytest.raises(MalformedKeyError):
        parse_vkey(encode_vkey(MLDSA.name, p.key_id ^ 1, 0x06, MLDSA.public))
    with pytest.raises(MalformedKeyError):
        parse_vkey(encode_vkey(MLDSA.name, p.key_id, 0x06, MLDSA.public[:-1]))


def test_mldsa_signed_message_layout() -> None:
    msg = subtree_v1_message("w", 7, "o", 42, bytes(32))
    assert msg.startswith(b"subtree/v1\n\x00" + b"\x01w" + struct.pack(">Q", 7) + b"\x01o")
    assert len(msg) == 12 + 2 + 8 + 2 + 16 + 32
    assert msg[-48:] == struct.pack(">QQ", 0, 42) + bytes(32)
    for name, origin in (("", "o"), ("w", ""), ("w" * 256, "o"), ("w", "o" * 256)):
        with pytest.raises(CheckpointError):
            subtree_v1_message(name, 0, origin, 1, bytes(32))


def test_mldsa_tampered_rejected() -> None:
    verifier = MLDSA.verifier()
    sig = MLDSA.sign_at(BODY.encode(), 5678)
    assert verifier.verify(BODY.encode(), sig)
    flipped = sig[:-1] + bytes([sig[-1] ^ 1])
    assert not verifier.verify(BODY.encode(), flipped)
    assert not verifier.verify(BODY.encode(), (5679).to_bytes(8, "big") + sig[8:])
    assert not verifier.verify(BODY.encode(), sig[:-1])
    bigger = Checkpoint(CHECKPOINT.origin, 43, CHECKPOINT.root, CHECKPOINT.extensions)
    assert not verifier.verify(bigger.body().encode(), sig)
    assert not verifier.verify(b"not a checkpoint\n", sig)
    # The message commits to the cosigner name.
    renamed = MLDSA44CosignatureVerifier("example.com/other", MLDSA.public)
    assert not renamed.verify(BODY.encode(), sig)
    note = cosigned(MLDSA)
    bad = Note(note.text, (note.signatures[0], Signature(MLDSA.name, MLDSA.key_id, flipped)))
    with pytest.raises(InvalidSignatureError):
        verify_note(parse_note(bad.to_bytes()), [LOG.verifier(), verifier])


def test_mldsa_does_not_cover_extension_lines() -> None:
    """Spec: extension lines are not in the ML-DSA-44 signed message."""
    sig = MLDSA.sign_at(BODY.encode(), 1)
    other = Checkpoint(CHECKPOINT.origin, 42, CHECKPOINT.root, ("different",)).body().encode()
    assert MLDSA.verifier().verify(other, sig)
