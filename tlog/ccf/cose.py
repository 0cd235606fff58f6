"""The small part of COSE (RFC 9052) that CCF root signatures and receipts need.

A COSE_Sign1 is the CBOR array [protected: bstr, unprotected: map, payload: bstr / nil,
signature: bstr], optionally under tag 18. Its signature covers the Sig_structure
["Signature1", protected, external_aad, payload]; CCF detaches the payload (nil) and the
verifier supplies it (the Merkle root). ECDSA signatures are raw r || s (RFC 9053 2.1).

This module is deliberately minimal; a general COSE library (tlog.cose) may replace it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

from tlog.ccf.errors import CcfError

COSE_SIGN1_TAG = 18
HEADER_ALG = 1
HEADER_KID = 4
HEADER_CWT_CLAIMS = 15
HEADER_VDS = 395
HEADER_VDP = 396
# RFC 9053 ECDSA algorithms: COSE alg -> (hash, curve name, coordinate size).
ECDSA_ALGS: dict[int, tuple[type[hashes.HashAlgorithm], str, int]] = {
    -7: (hashes.SHA256, "secp256r1", 32),
    -35: (hashes.SHA384, "secp384r1", 48),
    -36: (hashes.SHA512, "secp521r1", 66),
}
MAX_COSE_BYTES = 1 << 16


class MalformedCoseError(CcfError):
    """Bytes that are not the COSE_Sign1 shape this code accepts."""


@dataclass(frozen=True, slots=True)
class Sign1:
    """A decoded COSE_Sign1; protected_bytes is kept exactly, for the Sig_structure."""

    protected_bytes: bytes
    protected: dict[Any, Any]
    unprotected: dict[Any, Any]
    payload: bytes | None
    signature: bytes

    @property
    def alg(self) -> int | None:
        alg = self.protected.get(HEADER_ALG)
        return alg if isinstance(alg, int) else None

    def to_be_signed(self, payload: bytes | None = None, external_aad: bytes = b"") -> bytes:
        """The Sig_structure bytes, with payload substituted when it is detached."""
        body = self.payload if payload is None else payload
        if body is None:
            raise MalformedCoseError("COSE_Sign1 payload is detached and none was supplied")
        return cbor2.dumps(["Signature1", self.protected_bytes, external_aad, body])


def _loads(data: bytes, what: str) -> Any:
    try:
        return cbor2.loads(data)
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError) as e:
        raise MalformedCoseError(f"{what} is not CBOR ({e})") from None


def decode_sign1(data: bytes) -> Sign1:
    """Decode a COSE_Sign1 (tagged or not); its protected header must be a CBOR map."""
    if len(data) > MAX_COSE_BYTES:
        raise MalformedCoseError(f"COSE_Sign1 of {len(data)} bytes exceeds {MAX_COSE_BYTES}")
    obj = _loads(data, "COSE_Sign1")
    if isinstance(obj, cbor2.CBORTag):
        if obj.tag != COSE_SIGN1_TAG:
            raise MalformedCoseError(f"CBOR tag {obj.tag}, want {COSE_SIGN1_TAG} (COSE_Sign1)")
        obj = obj.value
    if not isinstance(obj, list | tuple) or len(obj) != 4:
        raise MalformedCoseError("COSE_Sign1 is not a 4-element array")
    prot, unprot, payload, sig = obj
    if not isinstance(prot, bytes):
        raise MalformedCoseError("COSE_Sign1 protected header is not a byte string")
    if not isinstance(unprot, Mapping):
        raise MalformedCoseError("COSE_Sign1 unprotected header is not a map")
    if payload is not None and not isinstance(payload, bytes):
        raise MalformedCoseError("COSE_Sign1 payload is neither a byte string nor nil")
    if not isinstance(sig, bytes):
        raise MalformedCoseError("COSE_Sign1 signature is not a byte string")
    headers = _loads(prot, "COSE_Sign1 protected header") if prot else {}
    if not isinstance(headers, Mapping):
        raise MalformedCoseError("COSE_Sign1 protected header is not a map")
    return Sign1(prot, dict(headers), dict(unprot), payload, sig)


def verify_ecdsa(
    sign1: Sign1, key: ec.EllipticCurvePublicKey, payload: bytes | None = None
) -> bool:
    """True when sign1's ECDSA signature by key verifies (payload supplied when detached)."""
    spec = ECDSA_ALGS.get(sign1.alg) if sign1.alg is not None else None
    if spec is None:
        return False
    hash_cls, curve, size = spec
    if key.curve.name != curve or len(sign1.signature) != 2 * size:
        return False
    r = int.from_bytes(sign1.signature[:size], "big")
    s = int.from_bytes(sign1.signature[size:], "big")
    try:
        key.verify(
            utils.encode_dss_signature(r, s), sign1.to_be_signed(payload), ec.ECDSA(hash_cls())
        )
    except InvalidSignature:
        return False
    return True
