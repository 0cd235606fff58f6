"""COSE_Sign1 (RFC 9052): strict decoding and signature verification. Pure: no I/O.

A COSE_Sign1 is the CBOR array [protected: bstr, unprotected: map, payload:
bstr / nil, signature: bstr], optionally under tag 18 (under a tag, arrays
decode as tuples and maps as read-only Mappings). The protected bstr is empty
or a CBOR map. Decoding is strict: definite lengths only, no duplicate map
keys, nesting at most 16 deep, nothing after the item, and no semantic tag is
interpreted (a tag stays a CBORTag), so hostile bytes cannot make the decoder
build dates, regular expressions or shared references.

The signature is over Sig_structure = ["Signature1", protected, h'', payload]
(a detached payload, nil, cannot be verified here).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from monitor.errors import MalformedClaimError

TAG_SIGN1 = 18
MAX_DEPTH = 16
HEADER_ALG = 1
HEADER_CONTENT_TYPE = 3
HEADER_KID = 4
HEADER_CWT_CLAIMS = 15
HEADER_X5CHAIN = 33
HEADER_X5T = 34

# Every tag cbor2 would otherwise turn into a Python object (dates, bignums,
# decimals, regular expressions, MIME, UUIDs, sets, shared and string references).
_SEMANTIC_TAGS = (0, 1, 2, 3, 4, 5, 25, 28, 29, 30, 35, 36, 37, 52, 54, 100, 256, 258, 260, 261,
                  1004, 43000, 55799)  # fmt: skip


def _raw(tag: int) -> Any:
    return lambda value, immutable: cbor2.CBORTag(tag, value)


_RAW_TAGS = {tag: _raw(tag) for tag in _SEMANTIC_TAGS}
_DECODE_ERRORS = (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError)

_HASHES: Mapping[int, type[hashes.HashAlgorithm]] = {
    -7: hashes.SHA256, -35: hashes.SHA384, -36: hashes.SHA512,
    -37: hashes.SHA256, -38: hashes.SHA384, -39: hashes.SHA512,
    -257: hashes.SHA256, -258: hashes.SHA384, -259: hashes.SHA512,
}  # fmt: skip
ALG_NAMES: Mapping[int, str] = {
    -7: "ES256", -35: "ES384", -36: "ES512", -37: "PS256", -38: "PS384", -39: "PS512",
    -257: "RS256", -258: "RS384", -259: "RS512", -8: "EdDSA",
}  # fmt: skip


def decode_cbor(data: bytes, what: str) -> Any:
    """One strictly decoded CBOR item that spans all of data; MalformedClaimError otherwise."""
    stream = io.BytesIO(data)
    try:
        decoder = cbor2.CBORDecoder(
            stream,
            semantic_decoders=_RAW_TAGS,
            allow_indefinite=False,
            allow_duplicate_keys=False,
            max_depth=MAX_DEPTH,
        )
        item = decoder.decode()
    except _DECODE_ERRORS as e:
        raise MalformedClaimError(f"{what} is not valid CBOR: {str(e)[:200]}") from None
    if stream.tell() != len(data):
        extra = len(data) - stream.tell()
        raise MalformedClaimError(f"{what} has {extra} bytes after the CBOR item")
    return item


@dataclass(frozen=True, slots=True)
class CoseSign1:
    """A decoded COSE_Sign1; header maps are as decoded (labels int or str)."""

    protected_bytes: bytes
    protected: Mapping[Any, Any]
    unprotected: Mapping[Any, Any]
    payload: bytes | None
    signature: bytes = field(repr=False)

    @property
    def alg(self) -> Any:
        return self.protected.get(HEADER_ALG)

    def header(self, label: int) -> Any:
        """A header parameter, protected first, then unprotected (None if absent)."""
        if label in self.protected:
            return self.protected[label]
        return self.unprotected.get(label)

    def certificate(self) -> bytes | None:
        """The DER signing certificate: the first of x5chain (label 33), if any."""
        chain = self.header(HEADER_X5CHAIN)
        if isinstance(chain, list | tuple) and chain and isinstance(chain[0], bytes):
            return chain[0]
        return chain if isinstance(chain, bytes) else None

    def to_be_signed(self) -> bytes:
        """The Sig_structure bytes the signature covers (the payload must be attached)."""
        if self.payload is None:
            raise MalformedClaimError("detached payload: the signature cannot be checked")
        return cbor2.dumps(["Signature1", self.protected_bytes, b"", self.payload])


def decode_sign1(data: bytes) -> CoseSign1:
    """Decode a (tagged or untagged) COSE_Sign1; MalformedClaimError saying what is wrong."""
    item = decode_cbor(data, "COSE_Sign1")
    if isinstance(item, cbor2.CBORTag):
        if item.tag != TAG_SIGN1:
            raise MalformedClaimError(f"CBOR tag {item.tag} is not COSE_Sign1 (18)")
        item = item.value
    if not isinstance(item, list | tuple) or len(item) != 4:
        raise MalformedClaimError("COSE_Sign1 must be an array of 4 items")
    protected_bytes, unprotected, payload, signature = item
    if not isinstance(protected_bytes, bytes):
        raise MalformedClaimError("COSE_Sign1 protected header must be a byte string")
    protected = decode_cbor(protected_bytes, "protected header") if protected_bytes else {}
    if not isinstance(protected, Mapping):
        raise MalformedClaimError("protected header must be a map")
    if not isinstance(unprotected, Mapping):
        raise MalformedClaimError("unprotected header must be a map")
    if payload is not None and not isinstance(payload, bytes):
        raise MalformedClaimError("payload must be a byte string or nil")
    if not isinstance(signature, bytes):
        raise MalformedClaimError("signature must be a byte string")
    for label in protected.keys() & unprotected.keys():
        raise MalformedClaimError(f"header {label!r} is both protected and unprotected")
    return CoseSign1(protected_bytes, protected, unprotected, payload, signature)


def _verify(key: Any, alg: int, signature: bytes, message: bytes) -> None:
    if alg == -8 and isinstance(key, ed25519.Ed25519PublicKey):
        key.verify(signature, message)
        return
    algorithm = _HASHES.get(alg)
    if algorithm is None:
        raise InvalidSignature
    if alg in (-7, -35, -36) and isinstance(key, ec.EllipticCurvePublicKey):
        n = (key.curve.key_size + 7) // 8
        if len(signature) != 2 * n:
            raise InvalidSignature
        r, s = int.from_bytes(signature[:n], "big"), int.from_bytes(signature[n:], "big")
        key.verify(encode_dss_signature(r, s), message, ec.ECDSA(algorithm()))
    elif alg in (-37, -38, -39) and isinstance(key, rsa.RSAPublicKey):
        pss = padding.PSS(mgf=padding.MGF1(algorithm()), salt_length=algorithm.digest_size)
        key.verify(signature, message, pss, algorithm())
    elif alg in (-257, -258, -259) and isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, message, padding.PKCS1v15(), algorithm())
    else:
        raise InvalidSignature


def verify_with_certificate(statement: CoseSign1, der: bytes) -> bool:
    """Whether statement's signature verifies with the public key of DER certificate der."""
    try:
        key = x509.load_der_x509_certificate(der).public_key()
        _verify(key, statement.alg, statement.signature, statement.to_be_signed())
    except (InvalidSignature, ValueError, TypeError, MalformedClaimError):
        return False
    return True
