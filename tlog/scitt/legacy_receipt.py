"""Legacy scitt-ccf-ledger receipts (before COSE Receipts): recognised, described, not verified.

Early scitt-ccf-ledger services put an untagged 2-array [protected: bstr,
contents] in header 394, where protected is a map with "tree_alg", the service
DID (label 391) and "service_id", and contents holds the node signature, node
certificate, path and leaf. Their leaf commits to a countersignature structure
this project does not rebuild, and the service certificate must come from the
service's DID document, so they are reported with the reason, never passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tlog.cose import cbor
from tlog.cose.errors import MalformedCoseError

LEGACY_ISSUER = 391


@dataclass(frozen=True, slots=True)
class LegacyReceipt:
    service: str | None
    tree_alg: str | None
    service_id: str | None

    def reason(self) -> str:
        """Why this receipt is reported as not verifiable."""
        return (
            f"legacy scitt-ccf-ledger receipt (before COSE Receipts) from {self.service!r}: "
            "not verifiable here (its leaf binds a countersignature this project does not "
            "rebuild, and the service certificate must come from the service's DID document)"
        )


def parse_legacy_receipt(item: Any) -> LegacyReceipt | None:
    """A LegacyReceipt when item (a decoded 394 element) has the legacy shape, else None."""
    if not isinstance(item, list | tuple) or len(item) != 2 or not isinstance(item[0], bytes):
        return None
    try:
        protected = cbor.decode(item[0], "legacy receipt protected header")
    except MalformedCoseError:
        return None
    if not isinstance(protected, Mapping) or "tree_alg" not in protected:
        return None

    def text(key: Any) -> str | None:
        value = protected.get(key)
        return value if isinstance(value, str) else None

    return LegacyReceipt(text(LEGACY_ISSUER), text("tree_alg"), text("service_id"))
