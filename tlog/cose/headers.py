"""COSE header labels and typed access to the ones this project reads. Pure.

Labels: RFC 9052 (alg 1, content type 3, kid 4), RFC 9597 (CWT claims 15),
RFC 9360 (x5chain 33, x5t 34), RFC 9942 (receipts 394, vds 395, vdp 396), and
the COSE hash-envelope draft (payload hash alg 258, preimage content type 259,
payload location 260). CWT claim keys (RFC 8392): iss 1, sub 2, iat 6.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tlog.cose.errors import MalformedCoseError

ALG = 1
CONTENT_TYPE = 3
KID = 4
CWT_CLAIMS = 15
X5CHAIN = 33
X5T = 34
RECEIPTS = 394
VDS = 395
VDP = 396
PAYLOAD_HASH_ALG = 258
PREIMAGE_CONTENT_TYPE = 259
PAYLOAD_LOCATION = 260

CWT_ISS = 1
CWT_SUB = 2
CWT_IAT = 6

MAX_CHAIN = 8


def header_alg(protected: Mapping[Any, Any]) -> int:
    """The protected alg; COSE receipts and SCITT statements require it there."""
    alg = protected.get(ALG)
    if alg is None:
        raise MalformedCoseError("protected header has no alg (1)")
    if not isinstance(alg, int) or isinstance(alg, bool):
        raise MalformedCoseError(f"alg (1) is {alg!r}, not an integer")
    return alg


def header_kid(value: Any) -> bytes | None:
    """A kid header value: a byte string (some services send text; it is taken as UTF-8)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode("utf-8")
    if not isinstance(value, bytes):
        raise MalformedCoseError(f"kid (4) is a {type(value).__name__}, not a byte string")
    return value


def x5chain(value: Any) -> list[bytes]:
    """The x5chain certificates, leaf first: one bstr or an array of them (RFC 9360)."""
    if value is None:
        return []
    if isinstance(value, bytes):
        return [value]
    if not isinstance(value, list | tuple) or not value:
        raise MalformedCoseError("x5chain (33) must be a byte string or a non-empty array")
    if len(value) > MAX_CHAIN:
        raise MalformedCoseError(f"x5chain (33) has {len(value)} certificates, at most {MAX_CHAIN}")
    if not all(isinstance(c, bytes) for c in value):
        raise MalformedCoseError("x5chain (33) must hold only byte strings")
    return list(value)


def cwt_claims(value: Any) -> Mapping[Any, Any]:
    """The CWT claims header (15) as a map (empty when absent)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise MalformedCoseError("CWT claims (15) must be a map")
    return value


def text_claim(claims: Mapping[Any, Any], key: int, name: str) -> str | None:
    """A text CWT claim such as iss or sub (None when absent)."""
    value = claims.get(key)
    if value is not None and not isinstance(value, str):
        raise MalformedCoseError(f"CWT claim {name} ({key}) is not a text string")
    return value
