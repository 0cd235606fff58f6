"""COSE_Sign1 for the monitor's SCITT claim type: tlog.cose with the monitor's error type. Pure.

Decoding and verification are tlog.cose's (strict CBOR: definite lengths, no
duplicate keys, bounded nesting and size, no semantic tags interpreted; ES*,
PS*, RS*, EdDSA). This module maps tlog.cose's errors to MalformedClaimError and
adds what the claim type asks: the raw alg value (the claim parser checks its
type), the signing certificate, and whether the signature verifies with it.
A detached payload (nil) cannot be verified here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from monitor.errors import MalformedClaimError
from tlog.cose import headers
from tlog.cose.algorithms import ALG_NAMES
from tlog.cose.errors import CoseError
from tlog.cose.keys import load_certificate
from tlog.cose.sign1 import CoseSign1 as _CoseSign1
from tlog.cose.sign1 import decode_sign1 as _decode_sign1

__all__ = [
    "ALG_NAMES",
    "HEADER_CONTENT_TYPE",
    "HEADER_CWT_CLAIMS",
    "HEADER_KID",
    "CoseSign1",
    "decode_sign1",
    "verify_with_certificate",
]

HEADER_CONTENT_TYPE = headers.CONTENT_TYPE
HEADER_CWT_CLAIMS = headers.CWT_CLAIMS
HEADER_KID = headers.KID


@dataclass(frozen=True, slots=True)
class CoseSign1(_CoseSign1):
    """tlog.cose's COSE_Sign1 with the raw alg and the signing certificate."""

    @property
    def alg(self) -> Any:  # type: ignore[override]
        return self.protected.get(headers.ALG)

    def certificate(self) -> bytes | None:
        """The DER signing certificate: the first of x5chain (label 33), if any."""
        chain = self.header(headers.X5CHAIN)
        if isinstance(chain, list | tuple) and chain and isinstance(chain[0], bytes):
            return chain[0]
        return chain if isinstance(chain, bytes) else None


def decode_sign1(data: bytes) -> CoseSign1:
    """Decode a (tagged or untagged) COSE_Sign1; MalformedClaimError saying what is wrong."""
    try:
        s = _decode_sign1(data, "COSE_Sign1")
    except CoseError as e:
        raise MalformedClaimError(str(e)) from None
    return CoseSign1(
        s.protected_bytes, s.protected, s.unprotected, s.payload, s.signature, s.tagged
    )


def verify_with_certificate(statement: CoseSign1, der: bytes) -> bool:
    """Whether statement's signature verifies with the public key of DER certificate der."""
    try:
        statement.verify(load_certificate(der, "signing certificate").public_key())
    except CoseError:
        return False
    return True
