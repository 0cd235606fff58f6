"""Choosing the type 0x05 key a CT source verifies heads with."""

from __future__ import annotations

from collections.abc import Sequence

from tlog.errors import KeyMaterialError
from tlog.keys import RFC6962Verifier
from tlog.note import Verifier


def ct_verifier(verifiers: Sequence[Verifier], origin: str | None, url: str) -> RFC6962Verifier:
    """The configured RFC 6962 (type 0x05) key; with origin set, the one named origin.

    A CT head is an RFC 6962 tree head signature, so only a 0x05 key can
    verify it; its name is the checkpoint origin.
    """
    keys = [v for v in verifiers if isinstance(v, RFC6962Verifier)]
    if origin is not None:
        keys = [v for v in keys if v.name == origin]
    if not keys:
        want = f" named {origin!r}" if origin is not None else ""
        raise KeyMaterialError(f"CT log {url}: configure its type 0x05 (RFC 6962) vkey{want}")
    return keys[0]
