"""Signed notes (tlog.note): the VERIFIED vectors, tampering, strictness, fuzzing, round trips."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.vectors import VectorFile, VerifiedNote, load, verified_notes
from tlog.cosignature import CosignatureV1Verifier
from tlog.errors import (
    InvalidSignatureError,
    MalformedKeyError,
    MalformedNoteError,
    NoteError,
    TlogError,
    UnverifiedNoteError,
)
from tlog.keys import (
    ALG_COSIGNATURE_V1,
    ALG_ECDSA,
    ALG_ED25519,
    ALG_RFC6962_STH,
    ECDSAVerifier,
    Ed25519Signer,
    Ed25519Verifier,
    RFC6962Verifier,
    encode_vkey,
    generate_signer,
    parse_private_key,
    parse_vkey,
    split_key,
)
from tlog.note import (
    MAX_SIGNATURES,
    Note,
    Signature,
    is_valid_key_name,
    parse_note,
    sign_note,
    verify_note,
)

CASES = verified_notes()
SIGNER = Ed25519Signer("example.com/test", bytes(range(32)))


def signed(text: str = "hello\n", signer: Ed25519Signer = SIGNER) -> bytes:
    return sign_note(text, [signer]).to_bytes()


def first_known(note: Note, vkeys: tuple[str, ...]) -> tuple[int, str]:
    """Index of the first signature made by one of `vkeys`, and that vkey."""
    ids = {(v.name, v.key_id): k for k in vkeys for v in [parse_vkey(k)]}
    for i, sig in enumerate(note.signatures):
        if (sig.name, sig.key_id) in ids:
            return i, ids[sig.name, sig.key_id]
    raise AssertionError("no known signature")


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def tamper_text(data: bytes) -> bytes:
    """Change one ASCII letter or digit of the note text to another one."""
    i = next(i for i, b in enumerate(data) if chr(b).isalnum())
    return data[:i] + (b"x" if data[i : i + 1] != b"x" else b"y") + data[i + 1 :]


def other_key_same_name(vkey: str) -> str:
    """A valid vkey with the same name and type but a different public key (and key ID)."""
    p = split_key(vkey, "vkey")
    if p.alg in (ALG_ED25519, ALG_COSIGNATURE_V1):
        changed = flip(p.material, 0)
        cls = Ed25519Verifier if p.alg == ALG_ED25519 else CosignatureV1Verifier
        return cls(p.name, changed).vkey()
    spki = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert p.alg in (ALG_ECDSA, ALG_RFC6962_STH)
    cls2 = ECDSAVerifier if p.alg == ALG_ECDSA else RFC6962Verifier
    return cls2(p.name, spki).vkey()


# --- every VERIFIED vector ----------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_verified_vector(case: VerifiedNote) -> None:
    note = parse_note(case.note)
    assert note.to_bytes() == case.note
    verified = verify_note(note, [parse_vkey(v) for v in case.vkeys])
    assert tuple(v.name for v in verified) == case.signers


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_tampered_text_rejected(case: VerifiedNote) -> None:
    note = parse_note(tamper_text(case.note))
    with pytest.raises(InvalidSignatureError):
        verify_note(note, [parse_vkey(v) for v in case.vkeys])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_tampered_signature_rejected(case: VerifiedNote) -> None:
    note = parse_note(case.note)
    i, _ = first_known(note, case.vkeys)
    sig = note.signatures[i]
    bad = Signature(sig.name, sig.key_id, flip(sig.signature, len(sig.signature) - 1))
    tampered = Note(note.text, (*note.signatures[:i], bad, *note.signatures[i + 1 :]))
    # Every other known signature still verifies: one failure rejects the whole note.
    with pytest.raises(InvalidSignatureError, match=sig.name):
        verify_note(parse_note(tampered.to_bytes()), [parse_vkey(v) for v in case.vkeys])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_tampered_key_rejected(case: VerifiedNote) -> None:
    note = parse_note(case.note)
    _, vkey = first_known(note, case.vkeys)
    p = split_key(vkey, "vkey")
    # One key byte changed, key ID kept: the vkey no longer matches its own ID (or,
    # for DER keys, no longer parses).
    tampered = encode_vkey(p.name, p.key_id, p.alg, flip(p.material, len(p.material) - 1))
    with pytest.raises(MalformedKeyError):
        parse_vkey(tampered)
    # A different key under the same name has a different key ID: its signature is unknown.
    with pytest.raises(UnverifiedNoteError):
        verify_note(note, [parse_vkey(other_key_same_name(vkey))])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_unknown_signer_only_rejected(case: VerifiedNote) -> None:
    stranger = generate_signer("stranger.example/key").verifier()
    with pytest.raises(UnverifiedNoteError, match="no signature from a known key"):
        verify_note(parse_note(case.note), [stranger])
    with pytest.raises(UnverifiedNoteError):
        verify_note(parse_note(case.note), [])


def test_resigning_reproduces_go_vector_byte_for_byte(
    vectors: Callable[[str], VectorFile],
) -> None:
    xmod = vectors("xmod-note-peterneumann.txt")
    signer = parse_private_key(xmod.line("skey-peter"))
    assert signer.vkey() == xmod.line("vkey-peter")
    note = parse_note(xmod["signed-note-peter"])
    assert sign_note(note.text, [signer]).to_bytes() == xmod["signed-note-peter"]


@pytest.mark.parametrize("name", ["checkpoint-5", "checkpoint-8"])
def test_resigning_monkeys_checkpoint_reproduces_it(name: str) -> None:
    monkeys = load("monkeys-consistency-5-to-8.txt")
    signer = parse_private_key(monkeys.line("log-skey"))
    assert signer.vkey() == monkeys.line("log-vkey")
    text = parse_note(monkeys[name]).text
    assert sign_note(text, [signer]).to_bytes() == monkeys[name]


def test_sigsum_cosignature_lines_select_exactly_line_2() -> None:
    """Lines 1 and 3 are unknown keys (ignored); line 4 is a known key's bad signature."""
    sigsum = load("sigsum-testkey17-checkpoint-and-cosignature.txt")
    (case,) = (c for c in CASES if c.id == "sigsum-testkey17-cosignature-line-2")
    verifier = parse_vkey(case.vkeys[0])
    body = sigsum.text("cosigned-body")
    lines = sigsum.lines("cosignature-lines")
    outcomes = []
    for line in lines:
        note = parse_note(f"{body}\n{line}\n")
        try:
            verify_note(note, [verifier])
            outcomes.append("verified")
        except UnverifiedNoteError:
            outcomes.append("ignored")
        except InvalidSignatureError:
            outcomes.append("rejected")
    assert outcomes == ["ignored", "verified", "ignored", "rejected"]
    assert int.from_bytes(parse_note(f"{body}\n{lines[1]}\n").signatures[0].signature[:8]) == 1234
    # All four together: the known key's malformed line 4 rejects the note (spec SHOULD).
    with pytest.raises(InvalidSignatureError):
        verify_note(parse_note(body + "\n" + "".join(f"{x}\n" for x in lines)), [verifier])


def test_unverifiable_intro_note_splits_at_last_blank_line(
    vectors: Callable[[str], VectorFile],
) -> None:
    c2sp = vectors("c2sp-signed-note-example.txt")
    note = parse_note(c2sp["unverifiable-intro-note"])
    assert note.text == (
        "Ognuno sta solo sul cuor della terra\n"
        "trafitto da un raggio di sole:\n"
        "\n"
        "ed è subito sera.\n"
    )
    assert [s.name for s in note.signatures] == ["quasimodo.example/salvatore"]
    assert note.to_bytes() == c2sp["unverifiable-intro-note"]


def test_same_name_other_key_is_ignored_not_rejected() -> None:
    """Spec: ignore signatures that share a name (but not an ID) with a known key."""
    impostor = Ed25519Signer(SIGNER.name, bytes(32))
    note = sign_note("text\n", [impostor, SIGNER])
    assert verify_note(note, [SIGNER.verifier()]) == [SIGNER.verifier()]


def test_duplicate_signature_counts_once() -> None:
    note = sign_note("text\n", [SIGNER, SIGNER])
    assert verify_note(note, [SIGNER.verifier()]) == [SIGNER.verifier()]


def test_many_signatures_accepted_up_to_limit() -> None:
    signers = [Ed25519Signer(f"k{i}", bytes([i]) * 32) for i in range(MAX_SIGNATURES)]
    note = parse_note(sign_note("text\n", signers).to_bytes())
    assert len(verify_note(note, [s.verifier() for s in signers])) == MAX_SIGNATURES
    line = note.signatures[0].line()
    with pytest.raises(MalformedNoteError, match="signatures"):
        parse_note(note.to_bytes() + line.encode())


# --- strictness ---------------------------------------------------------------

SIG = SIGNER.sign(b"text\n")
GOOD_LINE = Signature(SIGNER.name, SIGNER.key_id, SIG).line()
BLOB = base64.b64encode(SIGNER.key_id.to_bytes(4, "big") + SIG).decode()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"text\n" + GOOD_LINE.encode(), id="missing-blank-line"),
        pytest.param(b"text\n\n", id="no-signatures"),
        pytest.param(b"text\n\n\n", id="empty-signature-line"),
        pytest.param(b"text\n\n" + GOOD_LINE.encode()[:-1], id="signatures-not-ending-in-newline"),
        pytest.param(b"text\n\n" + GOOD_LINE.encode() + b"\n", id="blank-line-after-signatures"),
        pytest.param(b"te\txt\n\n" + GOOD_LINE.encode(), id="tab-in-text"),
        pytest.param(b"text\r\n\n" + GOOD_LINE.encode(), id="cr-in-text"),
        pytest.param(b"te\x00xt\n\n" + GOOD_LINE.encode(), id="nul-in-text"),
        pytest.param(b"te\x1bxt\n\n" + GOOD_LINE.encode(), id="esc-in-text"),
        pytest.param(b"text\n\n" + GOOD_LINE.encode()[:-1] + b"\r\n", id="cr-in-signature"),
        pytest.param(b"te\xffxt\n\n" + GOOD_LINE.encode(), id="bad-utf8"),
        pytest.param(b"te\xc0\xafxt\n\n" + GOOD_LINE.encode(), id="overlong-utf8"),
        pytest.param(b"te\xed\xa0\x80xt\n\n" + GOOD_LINE.encode(), id="utf8-surrogate"),
        pytest.param(b"text\n\n- " + f"{SIGNER.name} {BLOB}\n".encode(), id="hyphen-prefix"),
        pytest.param(f"text\n\n– {SIGNER.name} {BLOB}\n".encode(), id="en-dash-prefix"),
        pytest.param(f"text\n\n—{SIGNER.name} {BLOB}\n".encode(), id="dash-no-space"),
        pytest.param(f"text\n\n—  {SIGNER.name} {BLOB}\n".encode(), id="empty-name"),
        pytest.param(f"text\n\n— a+b {BLOB}\n".encode(), id="plus-in-name"),
        pytest.param(f"text\n\n— a b {BLOB}\n".encode(), id="space-in-name"),
        pytest.param(f"text\n\n— a\u00a0b {BLOB}\n".encode(), id="nbsp-in-name"),
        pytest.param(f"text\n\n— a\u2003b {BLOB}\n".encode(), id="em-space-in-name"),
        pytest.param(f"text\n\n— {BLOB}\n".encode(), id="no-name"),
        pytest.param(f"text\n\n— a {BLOB} \n".encode(), id="trailing-space"),
        pytest.param("text\n\n— a AAAAAA==\n".encode(), id="blob-4-bytes"),
        pytest.param("text\n\n— a \n".encode(), id="blob-empty"),
        pytest.param("text\n\n— a AAAAAAB=\n".encode(), id="non-canonical-base64"),
        pytest.param("text\n\n— a AAAAAAA\n".encode(), id="missing-padding"),
        pytest.param("text\n\n— a AAAA_AA=\n".encode(), id="url-safe-base64"),
        pytest.param("text\n\n— a AAAA AA=\n".encode(), id="space-in-base64"),
    ],
)
def test_malformed_note(data: bytes) -> None:
    with pytest.raises(MalformedNoteError):
        parse_note(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    with pytest.raises(MalformedNoteError):
        parse_note(text)


def test_text_must_end_in_newline_to_sign() -> None:
    with pytest.raises(MalformedNoteError, match="newline"):
        sign_note("text", [SIGNER])
    with pytest.raises(MalformedNoteError, match="control"):
        sign_note("te\x07xt\n", [SIGNER])


def test_sign_rejects_invalid_key_name() -> None:
    class Named:
        name, key_id = "bad name", 1

        def sign(self, text: bytes) -> bytes:
            return b"sig"

    with pytest.raises(MalformedNoteError, match="key name"):
        sign_note("text\n", [Named()])


def test_del_and_non_ascii_are_allowed() -> None:
    """The spec forbids only controls below U+0020 (other than newline)."""
    text = "del \x7f and ünïcödé — ✓\n"
    assert verify_note(parse_note(signed(text)), [SIGNER.verifier()])


def test_oversized_note_rejected() -> None:
    with pytest.raises(MalformedNoteError, match="limit"):
        parse_note(b"a" * (1 << 20) + b"\n\n" + GOOD_LINE.encode())


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\tb", "a\x00", "a\x7f", "a\u2028b"])
def test_invalid_key_names(name: str) -> None:
    assert not is_valid_key_name(name)


@pytest.mark.parametrize("name", ["example.com/log", "ünïcödé", "a—b", "sigsum.org/v1/tree/00"])
def test_valid_key_names(name: str) -> None:
    assert is_valid_key_name(name)


def test_lone_surrogate_in_str_note_is_malformed() -> None:
    """Notes MUST be valid UTF-8; a str with a lone surrogate is not (and cannot be encoded)."""
    data = "te\udc80xt\n\n" + GOOD_LINE
    with pytest.raises(MalformedNoteError):
        verify_note(parse_note(data), [SIGNER.verifier()])


# --- fuzzing and round trips ----------------------------------------------------

names = st.text(
    st.characters(exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp"), exclude_characters="+"),
    min_size=1,
    max_size=20,
).filter(is_valid_key_name)
note_texts = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters=[chr(c) for c in range(32)])
    | st.just("\n"),
    max_size=200,
).map(lambda s: s + "\n")


@given(st.binary(max_size=400))
def test_parse_note_arbitrary_bytes(data: bytes) -> None:
    with contextlib.suppress(TlogError):
        parse_note(data)


@given(st.text(max_size=400))
def test_parse_note_arbitrary_text(data: str) -> None:
    with contextlib.suppress(TlogError):
        parse_note(data)


@st.composite
def mutated_notes(draw: st.DrawFn) -> bytes:
    """A valid signed note with a few random byte edits."""
    data = bytearray(signed(draw(note_texts)))
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["replace", "insert", "delete"]))
        byte = draw(st.sampled_from([0x00, 0x0A, 0x20, 0x2B, 0x3D, 0x41, 0x80, 0xE2, 0xFF]))
        if op == "replace":
            data[i] = byte
        elif op == "insert":
            data.insert(i, byte)
        else:
            del data[i]
    return bytes(data)


@given(mutated_notes())
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_mutated_notes_raise_only_note_errors(data: bytes) -> None:
    try:
        note = parse_note(data)
    except MalformedNoteError:
        return
    with contextlib.suppress(NoteError):
        verify_note(note, [SIGNER.verifier()])


@given(note_texts, st.lists(names, min_size=1, max_size=3))
def test_sign_parse_round_trip(text: str, key_names: list[str]) -> None:
    signers = [Ed25519Signer(n, bytes([i]) * 32) for i, n in enumerate(key_names)]
    note = sign_note(text, signers)
    assert parse_note(note.to_bytes()) == note
    assert parse_note(note.to_bytes().decode("utf-8")) == note
    verified = verify_note(parse_note(note.to_bytes()), [s.verifier() for s in signers])
    assert {v.name for v in verified} == set(key_names)
