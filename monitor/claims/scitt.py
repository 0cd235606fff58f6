"""SCITT signed statements: a COSE_Sign1 whose protected header names issuer and subject.

The issuer and subject are CWT claims 1 (iss) and 2 (sub) in the protected
header's CWT Claims parameter (label 15, RFC 9597); statements of the older
SCITT drafts carry them as header parameters 391 (issuer) and 392 (feed),
which are accepted when label 15 is absent. The algorithm (label 1) must be
an integer; the content type (label 3) is optional, text or a CoAP number.
The claim is (issuer, subject); its value is the SHA-256 of the payload
(empty for a detached payload). `fields` has the subject, content type,
algorithm, key ID and the SHA-256 of the signing certificate (x5chain).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from monitor.claims.claim import Claim, frozen
from monitor.cose import (
    ALG_NAMES,
    HEADER_CONTENT_TYPE,
    HEADER_CWT_CLAIMS,
    HEADER_KID,
    CoseSign1,
    decode_sign1,
)
from monitor.errors import MalformedClaimError

TYPE = "scitt"
LEGACY_ISSUER = 391
LEGACY_FEED = 392
CWT_ISS = 1
CWT_SUB = 2
MAX_STATEMENT = 1 << 20


def sniff(entry: bytes) -> bool:
    """Whether entry starts like a COSE_Sign1: tag 18 or a 4-item array."""
    return entry.startswith((b"\xd2\x84", b"\x84"))


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 2048:
        raise MalformedClaimError(f"{what} must be a non-empty text string (at most 2048)")
    if any(c < " " for c in value):
        raise MalformedClaimError(f"{what} has a control character")
    return value


def _issuer_subject(statement: CoseSign1) -> tuple[str, str]:
    claims = statement.protected.get(HEADER_CWT_CLAIMS)
    if claims is None:
        issuer = statement.protected.get(LEGACY_ISSUER)
        if issuer is None:
            raise MalformedClaimError("protected header has no CWT claims (15) and no issuer (391)")
        return _text(issuer, "issuer (391)"), _text(
            statement.protected.get(LEGACY_FEED, "-"), "feed (392)"
        )
    if not isinstance(claims, Mapping):
        raise MalformedClaimError("CWT claims (15) must be a map")
    return _text(claims.get(CWT_ISS), "CWT iss (1)"), _text(claims.get(CWT_SUB), "CWT sub (2)")


def _content_type(statement: CoseSign1) -> str:
    value = statement.protected.get(HEADER_CONTENT_TYPE)
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 65535:
        return str(value)
    return _text(value, "content type (3)")


def parse(entry: bytes) -> tuple[Claim, ...]:
    """The signed statement in entry; MalformedClaimError if it is not one."""
    if len(entry) > MAX_STATEMENT:
        raise MalformedClaimError(f"statement is {len(entry)} bytes, over {MAX_STATEMENT}")
    statement = decode_sign1(entry)
    alg = statement.alg
    if not isinstance(alg, int) or isinstance(alg, bool):
        raise MalformedClaimError("protected header needs an integer algorithm (1)")
    issuer, subject = _issuer_subject(statement)
    fields = {"subject": subject, "alg": ALG_NAMES.get(alg, str(alg))}
    content_type = _content_type(statement)
    if content_type:
        fields["content_type"] = content_type
    kid = statement.header(HEADER_KID)
    if isinstance(kid, bytes):
        fields["kid"] = kid.hex()
    certificate = statement.certificate()
    if certificate is not None:
        fields["certificate_sha256"] = hashlib.sha256(certificate).hexdigest()
    payload = "" if statement.payload is None else hashlib.sha256(statement.payload).hexdigest()
    return (Claim(TYPE, issuer, "", payload, frozen(fields), statement=statement),)
