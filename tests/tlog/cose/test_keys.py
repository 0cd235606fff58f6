"""tlog.cose.keys and headers: JWKs, certificates, kid and x5chain parsing."""

from __future__ import annotations

import pytest

from tests.tlog.scitt.builders import jwk, signer
from tlog.cose import headers as h
from tlog.cose.errors import MalformedCoseError, UnsupportedCoseAlgorithmError
from tlog.cose.keys import load_certificate, public_key_from_jwk, spki_der


@pytest.mark.parametrize("alg", [-7, -35, -36, -8, -37])
def test_jwk_round_trip(alg: int) -> None:
    s = signer(alg)
    assert spki_der(public_key_from_jwk(jwk(s), "k")) == spki_der(s.public)


@pytest.mark.parametrize(
    ("doc", "error", "message"),
    [
        ({"kty": "EC", "crv": "P-192", "x": "AA", "y": "AA"}, UnsupportedCoseAlgorithmError,
         "P-192"),
        ({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}, MalformedCoseError, "32 bytes each"),
        ({"kty": "EC", "crv": "P-256", "y": "AA"}, MalformedCoseError, "'x' is missing"),
        ({"kty": "EC", "crv": "P-256", "x": "A" * 43, "y": "A" * 43}, MalformedCoseError,
         "not a valid public key"),
        ({"kty": "oct", "k": "AA"}, UnsupportedCoseAlgorithmError, "'oct'"),
        ({"kty": "OKP", "crv": "Ed25519", "x": "!!"}, MalformedCoseError, "not base64url"),
    ],
)  # fmt: skip
def test_bad_jwks_say_what_is_wrong(doc: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        public_key_from_jwk(doc, "k")


def test_certificate_errors() -> None:
    with pytest.raises(MalformedCoseError, match=r"leaf is not an X\.509 certificate"):
        load_certificate(b"\x30\x03\x02\x01\x00", "leaf")


@pytest.mark.parametrize(
    ("value", "message"),
    [([], "non-empty"), ([b"a", 1], "only byte strings"), ([b"a"] * 9, "at most 8"), (5, "array")],
)
def test_x5chain_shapes(value: object, message: str) -> None:
    with pytest.raises(MalformedCoseError, match=message):
        h.x5chain(value)
    assert h.x5chain(b"c") == [b"c"]


def test_header_accessors() -> None:
    assert h.header_kid("abc") == b"abc"
    with pytest.raises(MalformedCoseError, match="not a byte string"):
        h.header_kid(5)
    with pytest.raises(MalformedCoseError, match="must be a map"):
        h.cwt_claims([1])
    with pytest.raises(MalformedCoseError, match="iss"):
        h.text_claim({1: 5}, 1, "iss")
    with pytest.raises(MalformedCoseError, match="no alg"):
        h.header_alg({})
    with pytest.raises(MalformedCoseError, match="not an integer"):
        h.header_alg({1: "ES256"})
