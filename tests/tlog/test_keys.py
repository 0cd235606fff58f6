"""Verifier keys and private keys (tlog.keys): real vkeys, key ID rules, strictness, fuzzing."""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given
from hypothesis import strategies as st

from tests.vectors import load
from tlog.errors import MalformedKeyError, TlogError, UnsupportedAlgorithmError
from tlog.keys import (
    ALG_COSIGNATURE_V1,
    ALG_ECDSA,
    ALG_ED25519,
    ALG_MLDSA44_COSIGNATURE,
    ALG_RFC6962_STH,
    ECDSAVerifier,
    Ed25519Signer,
    Ed25519Verifier,
    RFC6962Verifier,
    encode_vkey,
    generate_signer,
    key_id,
    parse_private_key,
    parse_vkey,
    split_key,
)


def spki(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


P256 = spki(ec.generate_private_key(ec.SECP256R1()))
P384 = spki(ec.generate_private_key(ec.SECP384R1()))
ED25519_DER = spki(ed25519.Ed25519PrivateKey.generate())


def real_vkeys() -> list[str]:
    aw = load("armored-witness-cosigned-checkpoints.txt")
    lists = load("witness-network-log-lists.txt")
    listed = [
        line.split(" ", 1)[1]
        for name in lists.sections
        if name != "format-example"
        for line in lists.lines(name)
        if line.startswith("vkey ")
    ]
    return sorted(
        {
            load("c2sp-signed-note-example.txt").line("vkey"),
            *(load("xmod-note-peterneumann.txt").line(k) for k in ("vkey-peter", "vkey-enoch")),
            load("sumdb-checkpoints.txt").line("vkey"),
            *load("sumdb-checkpoints.txt").lines("extra-vkeys"),
            *(load("static-ct-rfc6962-notes.txt").line(k) for k in ("vkey-rome", "vkey-argon2024")),
            *aw.lines("armored-witness-prod-vkeys"),
            *aw.lines("all-omniwitness-log-vkeys"),
            *listed,
        }
    )


@pytest.mark.parametrize("vkey", real_vkeys())
def test_real_vkey_round_trip(vkey: str) -> None:
    v = parse_vkey(vkey)
    assert v.vkey() == vkey  # type: ignore[attr-defined]
    assert vkey.startswith(f"{v.name}+{v.key_id:08x}+")


def test_witness_network_lists_have_21_real_vkeys() -> None:
    lists = load("witness-network-log-lists.txt")
    listed = [
        line
        for name in lists.sections
        if name != "format-example"
        for line in lists.lines(name)
        if line.startswith("vkey ")
    ]
    assert len(listed) == 21


def test_ed25519_key_id_rule() -> None:
    v = parse_vkey(load("c2sp-signed-note-example.txt").line("vkey"))
    assert isinstance(v, Ed25519Verifier)
    want = hashlib.sha256(b"example.com/foo\n\x01" + v.public).digest()[:4]
    assert v.key_id == int.from_bytes(want, "big") == 0x530D903A


def test_ecdsa_key_id_is_hash_of_der() -> None:
    v = parse_vkey(load("armored-witness-cosigned-checkpoints.txt").line("pixel-log-vkey"))
    assert isinstance(v, ECDSAVerifier)
    assert v.key_id == int.from_bytes(hashlib.sha256(v.spki).digest()[:4], "big") == 0x72C878DB


def test_rfc6962_key_id_is_over_log_id() -> None:
    ct = load("static-ct-rfc6962-notes.txt")
    der = base64.b64decode(ct.line("rome-spki-der-b64"))
    v = parse_vkey(ct.line("vkey-rome"))
    assert isinstance(v, RFC6962Verifier)
    assert v.spki == der
    log_id = hashlib.sha256(der).digest()
    assert v.key_id == key_id("rome.ct.filippo.io/2024h1", ALG_RFC6962_STH, log_id) == 0x78F4ABAE


@pytest.mark.parametrize(
    ("skey", "vkey"),
    [
        ("xmod-note-peterneumann.txt:skey-peter", "vkey-peter"),
        ("monkeys-consistency-5-to-8.txt:log-skey", "log-vkey"),
        ("monkeys-consistency-5-to-8.txt:witness-skey", "witness-vkey"),
    ],
)
def test_private_key_vectors(skey: str, vkey: str) -> None:
    file, section = skey.split(":")
    v = load(file)
    signer = parse_private_key(v.line(section))
    assert signer.vkey() == v.line(vkey)
    assert signer.private_key_string() == v.line(section)
    assert parse_private_key(v.text(section)) == signer  # surrounding whitespace is ignored


def test_generated_key_round_trip() -> None:
    signer = generate_signer("example.com/new")
    assert parse_private_key(signer.private_key_string()) == signer
    assert parse_vkey(signer.vkey()) == signer.verifier()
    assert signer.verifier().verify(b"msg\n", signer.sign(b"msg\n"))
    assert not signer.verifier().verify(b"msg\n", signer.sign(b"other\n"))
    assert not signer.verifier().verify(b"msg\n", signer.sign(b"msg\n")[:-1])


def b64(alg: int, material: bytes) -> str:
    return base64.b64encode(bytes([alg]) + material).decode()


ED_PUB = bytes(range(32))
PIXEL_VKEY = load("armored-witness-cosigned-checkpoints.txt").line("pixel-log-vkey")
ED_VKEY = encode_vkey("n", key_id("n", ALG_ED25519, ED_PUB), ALG_ED25519, ED_PUB)


@pytest.mark.parametrize(
    ("vkey", "error"),
    [
        pytest.param("", MalformedKeyError, id="empty"),
        pytest.param("n+12345678", MalformedKeyError, id="two-parts"),
        pytest.param("+12345678+" + b64(1, ED_PUB), MalformedKeyError, id="empty-name"),
        pytest.param("a b+12345678+" + b64(1, ED_PUB), MalformedKeyError, id="space-in-name"),
        pytest.param("a\u00a0b+12345678+" + b64(1, ED_PUB), MalformedKeyError, id="nbsp-name"),
        pytest.param("n+1234567+" + b64(1, ED_PUB), MalformedKeyError, id="7-hex-id"),
        pytest.param("n+123456789+" + b64(1, ED_PUB), MalformedKeyError, id="9-hex-id"),
        pytest.param("n+0x345678+" + b64(1, ED_PUB), MalformedKeyError, id="0x-id"),
        pytest.param(
            "n+" + ED_VKEY.split("+")[1].upper() + "+" + b64(1, ED_PUB),
            MalformedKeyError,
            id="uppercase-id",
        ),
        pytest.param("n+12345678+!!!!", MalformedKeyError, id="bad-base64"),
        pytest.param("n+12345678+AQ==", MalformedKeyError, id="type-only"),
        pytest.param(ED_VKEY[:-1], MalformedKeyError, id="truncated-base64"),
        pytest.param("n+00000000+" + b64(1, ED_PUB), MalformedKeyError, id="wrong-id"),
        pytest.param(ED_VKEY + "=", MalformedKeyError, id="non-canonical-base64-extra-padding"),
        pytest.param(
            PIXEL_VKEY[:-2] + "B=", MalformedKeyError, id="non-canonical-base64-trailing-bits"
        ),
        pytest.param(ED_VKEY.replace("+", "\t+", 1), MalformedKeyError, id="tab-in-name"),
        pytest.param(
            encode_vkey("n", 0, ALG_ED25519, ED_PUB[:31]), MalformedKeyError, id="ed25519-31-bytes"
        ),
        pytest.param(
            encode_vkey("n", key_id("n", 3, ED_PUB), 3, ED_PUB),
            UnsupportedAlgorithmError,
            id="reserved-type-3",
        ),
        pytest.param(
            encode_vkey("n", key_id("n", 0xFF, ED_PUB), 0xFF, ED_PUB),
            UnsupportedAlgorithmError,
            id="type-ff",
        ),
        pytest.param(
            encode_vkey("n", 0, ALG_ECDSA, b"\x30\x03garbage"), MalformedKeyError, id="bad-der"
        ),
        pytest.param(
            encode_vkey("n", int.from_bytes(hashlib.sha256(P384).digest()[:4]), ALG_ECDSA, P384),
            UnsupportedAlgorithmError,
            id="ecdsa-p384",
        ),
        pytest.param(
            encode_vkey("n", 0, ALG_ECDSA, ED25519_DER),
            UnsupportedAlgorithmError,
            id="ecdsa-with-ed25519-der",
        ),
        pytest.param(encode_vkey("n", 0, ALG_ECDSA, P256), MalformedKeyError, id="ecdsa-wrong-id"),
        pytest.param(
            encode_vkey("n", 0, ALG_RFC6962_STH, P384),
            UnsupportedAlgorithmError,
            id="rfc6962-p384",
        ),
        pytest.param(
            encode_vkey("n", 0, ALG_RFC6962_STH, P256), MalformedKeyError, id="rfc6962-wrong-id"
        ),
        pytest.param(
            encode_vkey("n", 0, ALG_COSIGNATURE_V1, ED_PUB),
            MalformedKeyError,
            id="cosigner-wrong-id",
        ),
        pytest.param(
            encode_vkey("n", 0, ALG_MLDSA44_COSIGNATURE, ED_PUB),
            MalformedKeyError,
            id="mldsa-wrong-length",
        ),
    ],
)
def test_malformed_vkeys(vkey: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_vkey(vkey)


def test_rfc6962_accepts_rsa_keys() -> None:
    der = spki(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    vkey = encode_vkey("ct.example", key_id("ct.example", 5, hashlib.sha256(der).digest()), 5, der)
    assert parse_vkey(vkey).vkey() == vkey  # type: ignore[attr-defined]


SEED = bytes(range(32))
GOOD_PRIVATE = Ed25519Signer("n", SEED).private_key_string()


@pytest.mark.parametrize(
    ("key", "error"),
    [
        pytest.param(GOOD_PRIVATE.removeprefix("PRIVATE+KEY+"), MalformedKeyError, id="no-prefix"),
        pytest.param(GOOD_PRIVATE.lower(), MalformedKeyError, id="lowercase-prefix"),
        pytest.param("PRIVATE+KEY+", MalformedKeyError, id="prefix-only"),
        pytest.param(
            f"PRIVATE+KEY+n+{key_id('n', 1, SEED):08x}+{b64(4, SEED)}",
            UnsupportedAlgorithmError,
            id="type-4",
        ),
        pytest.param(f"PRIVATE+KEY+n+00000000+{b64(1, SEED)}", MalformedKeyError, id="wrong-id"),
        pytest.param(f"PRIVATE+KEY+n+00000000+{b64(1, SEED[:31])}", MalformedKeyError, id="short"),
        pytest.param(f"PRIVATE+KEY+a b+00000000+{b64(1, SEED)}", MalformedKeyError, id="bad-name"),
    ],
)
def test_malformed_private_keys(key: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_private_key(key)


def test_signer_rejects_bad_name_and_seed() -> None:
    with pytest.raises(MalformedKeyError):
        Ed25519Signer("a+b", SEED)
    with pytest.raises(MalformedKeyError):
        Ed25519Signer("n", SEED + b"\x00")


@pytest.mark.parametrize(
    ("parse", "key"),
    [
        (parse_vkey, "a\udc80+00000000+" + b64(1, ED_PUB)),
        (parse_private_key, "PRIVATE+KEY+a\udc80+00000000+" + b64(1, SEED)),
    ],
)
def test_lone_surrogate_in_key_name_is_malformed(parse: Callable[[str], object], key: str) -> None:
    """Key names must be UTF-8; a str with a lone surrogate must not escape as UnicodeError."""
    with pytest.raises(MalformedKeyError):
        parse(key)


# --- fuzzing --------------------------------------------------------------------


def expected_id(name: str, alg: int, material: bytes) -> int:
    """The key ID each type's rule gives (so fuzzed vkeys get past the ID check)."""
    if alg == ALG_ECDSA:
        return int.from_bytes(hashlib.sha256(material).digest()[:4], "big")
    if alg == ALG_RFC6962_STH:
        return key_id(name, alg, hashlib.sha256(material).digest())
    return key_id(name, alg, material)


names = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="+"), min_size=0, max_size=12
)
materials = st.one_of(
    st.binary(max_size=80),
    st.binary(min_size=32, max_size=32),
    st.binary(min_size=1312, max_size=1312),
    st.sampled_from([P256, P384, ED25519_DER, P256[:-1], P256 + b"\x00"]),
)


@st.composite
def structured_vkeys(draw: st.DrawFn) -> str:
    name = draw(names)
    alg = draw(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 0xFF]))
    material = draw(materials)
    kid = draw(st.one_of(st.just(expected_id(name, alg, material)), st.integers(0, 2**32 - 1)))
    return encode_vkey(name, kid, alg, material)


@given(st.text(max_size=120))
def test_split_and_parse_vkey_arbitrary_text(s: str) -> None:
    with contextlib.suppress(TlogError):
        split_key(s, "vkey")
    with contextlib.suppress(TlogError):
        parse_vkey(s)


@given(structured_vkeys())
def test_parse_vkey_structured(vkey: str) -> None:
    try:
        v = parse_vkey(vkey)
    except TlogError:
        return
    assert parse_vkey(v.vkey()) == v  # type: ignore[attr-defined]


@given(st.text(max_size=120))
def test_parse_private_key_arbitrary_text(s: str) -> None:
    with contextlib.suppress(TlogError):
        parse_private_key(s)
    with contextlib.suppress(TlogError):
        parse_private_key("PRIVATE+KEY+" + s)


@given(structured_vkeys())
def test_parse_private_key_structured(vkey: str) -> None:
    with contextlib.suppress(TlogError):
        parse_private_key("PRIVATE+KEY+" + vkey)


@given(names.filter(lambda n: n and " " not in n), st.binary(min_size=32, max_size=32))
def test_private_key_round_trip(name: str, seed: bytes) -> None:
    try:
        signer = Ed25519Signer(name, seed)
    except MalformedKeyError:
        return
    assert parse_private_key(signer.private_key_string()) == signer
    assert parse_vkey(signer.vkey()) == signer.verifier()
