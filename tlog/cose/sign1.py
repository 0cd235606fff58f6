"""COSE_Sign1 (RFC 9052 section 4.2): strict decoding, Sig_structure, verification. Pure.

COSE_Sign1 = [protected: bstr, unprotected: map, payload: bstr / nil,
signature: bstr], tagged 18 or untagged. The protected bstr is empty or encodes
a map. A label may not be both protected and unprotected. The signature covers
Sig_structure = ["Signature1", protected bstr as received, external_aad,
payload]; a nil payload is *detached* and the verifier supplies it (COSE
receipts detach the Merkle root so that a verifier must recompute it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from tlog.cose import cbor
from tlog.cose.algorithms import verify_signature
from tlog.cose.errors import MalformedCoseError
from tlog.cose.headers import ALG, header_alg

TAG_SIGN1 = 18


@dataclass(frozen=True, slots=True)
class CoseSign1:
    """A decoded COSE_Sign1. Header maps are as decoded (labels int or str)."""

    protected_bytes: bytes
    protected: Mapping[Any, Any]
    unprotected: Mapping[Any, Any]
    payload: bytes | None
    signature: bytes = field(repr=False)
    tagged: bool = True

    @property
    def alg(self) -> int:
        """The protected alg header (label 1); MalformedCoseError when absent or not an int."""
        return header_alg(self.protected)

    def header(self, label: int | str) -> Any:
        """A header parameter, protected first, then unprotected (None if absent)."""
        if label in self.protected:
            return self.protected[label]
        return self.unprotected.get(label)

    def sig_structure(self, payload: bytes | None = None, external_aad: bytes = b"") -> bytes:
        """The bytes the signature covers; payload is required exactly when it is detached."""
        if self.payload is not None and payload is not None:
            raise MalformedCoseError("payload is attached: do not also supply a detached one")
        body = self.payload if self.payload is not None else payload
        if body is None:
            raise MalformedCoseError("payload is detached: the verifier must supply it")
        return cbor.encode(["Signature1", self.protected_bytes, external_aad, body])

    def verify(self, key: PublicKeyTypes, payload: bytes | None = None) -> None:
        """Check the signature with key (payload: the detached payload, if any).

        Raises CoseSignatureError, UnsupportedCoseAlgorithmError or MalformedCoseError.
        """
        verify_signature(self.alg, key, self.signature, self.sig_structure(payload))

    def encode(self, unprotected: Mapping[Any, Any] | None = None) -> bytes:
        """Re-encode, optionally with another unprotected map; the rest is kept byte for byte."""
        item = [
            self.protected_bytes,
            dict(self.unprotected if unprotected is None else unprotected),
            self.payload,
            self.signature,
        ]
        return cbor.encode(cbor2.CBORTag(TAG_SIGN1, item) if self.tagged else item)


def decode_sign1(
    data: bytes,
    what: str = "COSE_Sign1",
    *,
    require_tag: bool = False,
    max_size: int = cbor.MAX_SIZE,
) -> CoseSign1:
    """Decode a COSE_Sign1; MalformedCoseError naming `what` and saying what is wrong."""
    item = cbor.decode(data, what, max_size)
    tagged = isinstance(item, cbor2.CBORTag)
    if tagged:
        if item.tag != TAG_SIGN1:
            raise MalformedCoseError(f"{what}: CBOR tag {item.tag} is not COSE_Sign1 (18)")
        item = item.value
    elif require_tag:
        raise MalformedCoseError(f"{what}: must be tagged COSE_Sign1 (tag 18)")
    return sign1_from_item(item, what, tagged=tagged)


def sign1_from_item(item: Any, what: str, *, tagged: bool) -> CoseSign1:
    """Validate an already decoded (untagged) COSE_Sign1 array."""
    if not isinstance(item, list | tuple) or len(item) != 4:
        raise MalformedCoseError(f"{what}: COSE_Sign1 must be an array of 4 items")
    protected_bytes, unprotected, payload, signature = item
    if not isinstance(protected_bytes, bytes):
        raise MalformedCoseError(f"{what}: protected header must be a byte string")
    protected = cbor.decode(protected_bytes, f"{what} protected header") if protected_bytes else {}
    if not isinstance(protected, Mapping):
        raise MalformedCoseError(f"{what}: protected header must be a map")
    if not isinstance(unprotected, Mapping):
        raise MalformedCoseError(f"{what}: unprotected header must be a map")
    for where, headers in (("protected", protected), ("unprotected", unprotected)):
        for label in headers:
            if not isinstance(label, int | str) or isinstance(label, bool):
                raise MalformedCoseError(f"{what}: {where} header label {label!r} is not int/tstr")
    if payload is not None and not isinstance(payload, bytes):
        raise MalformedCoseError(f"{what}: payload must be a byte string or nil")
    if not isinstance(signature, bytes):
        raise MalformedCoseError(f"{what}: signature must be a byte string")
    both = set(protected) & set(unprotected)
    if both:
        raise MalformedCoseError(
            f"{what}: header {min(both, key=repr)!r} is both protected and unprotected"
        )
    if ALG in unprotected:
        raise MalformedCoseError(f"{what}: alg (1) must be in the protected header")
    return CoseSign1(protected_bytes, protected, unprotected, payload, signature, tagged)
