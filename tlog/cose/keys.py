"""Public keys for COSE verification: from X.509 certificates, SPKI and JWKs. Pure.

A key identifier that COSE services derive from a key (CCF, scitt-ccf-ledger:
lowercase hex SHA-256 of the DER SubjectPublicKeyInfo) is computed here too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from tlog.cose.errors import CoseError, MalformedCoseError, UnsupportedCoseAlgorithmError

_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_JWK_CURVES = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}


def load_certificate(data: bytes, what: str) -> x509.Certificate:
    """A DER or PEM X.509 certificate; MalformedCoseError naming `what` otherwise."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            cert = x509.load_pem_x509_certificate(data)
        else:
            cert = x509.load_der_x509_certificate(data)
        # cryptography parses fields lazily: touch those used later so that a bad
        # certificate fails here, with this message, and not in the middle of a check.
        cert.public_key()
        cert.subject.rfc4514_string()
        cert.issuer.rfc4514_string()
        cert.extensions  # noqa: B018
    # These three are not ValueErrors (found by fuzz/, scitt targets).
    except (
        ValueError,
        TypeError,
        UnsupportedAlgorithm,
        x509.InvalidVersion,
        x509.DuplicateExtension,
        x509.UnsupportedGeneralNameType,
    ) as e:
        raise MalformedCoseError(f"{what} is not an X.509 certificate: {e}") from None
    return cert


def spki_der(key: PublicKeyTypes) -> bytes:
    """The DER SubjectPublicKeyInfo of a public key."""
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def spki_sha256_hex(key: PublicKeyTypes) -> str:
    """Lowercase hex SHA-256 of the DER SPKI: the kid CCF services put in their receipts."""
    return hashlib.sha256(spki_der(key)).hexdigest()


def _b64url(jwk: Mapping[str, Any], name: str, what: str) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedCoseError(f"{what}: member {name!r} is missing or not a string")
    if not _B64URL.fullmatch(value):
        raise MalformedCoseError(f"{what}: member {name!r} is not base64url")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise MalformedCoseError(f"{what}: member {name!r} is not base64url") from None


def public_key_from_jwk(jwk: Mapping[str, Any], what: str) -> PublicKeyTypes:
    """An EC (P-256/384/521), RSA or Ed25519 (OKP) public JWK (RFC 7517/7518/8037)."""
    kty = jwk.get("kty")
    try:
        if kty == "EC":
            curve = _JWK_CURVES.get(jwk.get("crv"))  # type: ignore[arg-type]
            if curve is None:
                raise UnsupportedCoseAlgorithmError(f"{what}: EC curve {jwk.get('crv')!r}")
            x, y = _b64url(jwk, "x", what), _b64url(jwk, "y", what)
            size = (curve.key_size + 7) // 8
            if len(x) != size or len(y) != size:
                raise MalformedCoseError(f"{what}: x and y must be {size} bytes each")
            return ec.EllipticCurvePublicKey.from_encoded_point(curve(), b"\x04" + x + y)
        if kty == "RSA":
            n = int.from_bytes(_b64url(jwk, "n", what), "big")
            e = int.from_bytes(_b64url(jwk, "e", what), "big")
            return rsa.RSAPublicNumbers(e, n).public_key()
        if kty == "OKP" and jwk.get("crv") == "Ed25519":
            return ed25519.Ed25519PublicKey.from_public_bytes(_b64url(jwk, "x", what))
    except CoseError:
        raise
    except ValueError as e:
        raise MalformedCoseError(f"{what}: not a valid public key: {e}") from None
    raise UnsupportedCoseAlgorithmError(f"{what}: key type {kty!r} is not supported")
