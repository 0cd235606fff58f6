"""COSE signature algorithms (RFC 9053, RFC 8230, RFC 8812): names, key checks, verification.

ECDSA signatures in COSE are the fixed-length concatenation r || s, each the
size of the curve's field; the algorithm fixes the curve (ES256: P-256, ES384:
P-384, ES512: P-521) and the hash. PS* are RSASSA-PSS with MGF1 of the same
hash and a salt as long as the hash. RS* are RSASSA-PKCS1-v1_5 (RFC 8812).
EdDSA here is Ed25519. A key that does not fit the algorithm is an
UnsupportedCoseAlgorithmError, never a silent pass.
"""

from __future__ import annotations

from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tlog.cose.errors import CoseSignatureError, UnsupportedCoseAlgorithmError

ES256, ES384, ES512, EDDSA = -7, -35, -36, -8
PS256, PS384, PS512 = -37, -38, -39
RS256, RS384, RS512 = -257, -258, -259

ALG_NAMES: Mapping[int, str] = {
    ES256: "ES256", ES384: "ES384", ES512: "ES512", EDDSA: "EdDSA",
    PS256: "PS256", PS384: "PS384", PS512: "PS512",
    RS256: "RS256", RS384: "RS384", RS512: "RS512",
}  # fmt: skip
ALG_IDS: Mapping[str, int] = {name: alg for alg, name in ALG_NAMES.items()}

_HASHES: Mapping[int, type[hashes.HashAlgorithm]] = {
    ES256: hashes.SHA256, ES384: hashes.SHA384, ES512: hashes.SHA512,
    PS256: hashes.SHA256, PS384: hashes.SHA384, PS512: hashes.SHA512,
    RS256: hashes.SHA256, RS384: hashes.SHA384, RS512: hashes.SHA512,
}  # fmt: skip
_CURVES: Mapping[int, str] = {ES256: "secp256r1", ES384: "secp384r1", ES512: "secp521r1"}


def alg_name(alg: object) -> str:
    """A readable name for an alg header value (the number itself when unknown)."""
    return ALG_NAMES.get(alg, repr(alg)) if isinstance(alg, int) else repr(alg)


def check_key(alg: object, key: PublicKeyTypes) -> None:
    """Raise UnsupportedCoseAlgorithmError unless key can verify signatures of alg."""
    name = alg_name(alg)
    if not isinstance(alg, int) or alg not in ALG_NAMES:
        raise UnsupportedCoseAlgorithmError(f"COSE algorithm {name} is not supported")
    if alg in _CURVES:
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != _CURVES[alg]:
            raise UnsupportedCoseAlgorithmError(
                f"{name} needs an EC {_CURVES[alg]} key, got {describe_key(key)}"
            )
    elif alg == EDDSA:
        if not isinstance(key, ed25519.Ed25519PublicKey):
            raise UnsupportedCoseAlgorithmError(
                f"EdDSA needs an Ed25519 key, got {describe_key(key)}"
            )
    elif not isinstance(key, rsa.RSAPublicKey):
        raise UnsupportedCoseAlgorithmError(f"{name} needs an RSA key, got {describe_key(key)}")


def describe_key(key: PublicKeyTypes) -> str:
    """'EC secp384r1', 'RSA 3072', 'Ed25519', ... for messages."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    return type(key).__name__.removesuffix("PublicKey").lstrip("_") or "unknown key"


def verify_signature(alg: object, key: PublicKeyTypes, signature: bytes, message: bytes) -> None:
    """Check a COSE signature of alg over message; CoseSignatureError if it does not verify."""
    check_key(alg, key)
    assert isinstance(alg, int)
    name = alg_name(alg)
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            n = (key.curve.key_size + 7) // 8
            if len(signature) != 2 * n:
                raise CoseSignatureError(
                    f"{name} signature is {len(signature)} bytes, want {2 * n} (r || s)"
                )
            r, s = int.from_bytes(signature[:n], "big"), int.from_bytes(signature[n:], "big")
            key.verify(encode_dss_signature(r, s), message, ec.ECDSA(_HASHES[alg]()))
        elif isinstance(key, rsa.RSAPublicKey):
            h = _HASHES[alg]()
            if alg in (PS256, PS384, PS512):
                pss = padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size)
                key.verify(signature, message, pss, h)
            else:
                key.verify(signature, message, padding.PKCS1v15(), h)
    except InvalidSignature:
        raise CoseSignatureError(f"{name} signature does not verify") from None
