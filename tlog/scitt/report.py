"""Verification reports: what was checked, with what result, and why. Pure.

Every check ends in one status: "ok"; "failed" (checked and wrong: a bad
signature, a proof to the wrong root); "malformed" (bytes that do not parse);
"unavailable" (could not be checked: no key, detached payload, unsupported
format), always with a detail that names what is missing. A report's status is
its worst check, in the order failed > malformed > unavailable > ok.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tlog.cose.algorithms import alg_name
from tlog.scitt.receipt import VDS_NAMES, SignedRoot

OK, FAILED, MALFORMED, UNAVAILABLE = "ok", "failed", "malformed", "unavailable"
_RANK = {OK: 0, UNAVAILABLE: 1, MALFORMED: 2, FAILED: 3}


def worst(statuses: list[str]) -> str:
    """The worst of some statuses (ok for none)."""
    return max(statuses, key=_RANK.__getitem__, default=OK)


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: str
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"check": self.name, "status": self.status, "detail": self.detail}


def signed_root_json(root: SignedRoot) -> dict[str, Any]:
    """A SignedRoot as JSON values (hex hashes)."""
    return {
        "tree_alg": VDS_NAMES[root.vds],
        "root": root.root.hex(),
        "tree_size": root.tree_size,
        "leaf_index": root.leaf_index,
        "old_size": root.old_size,
        "old_root": None if root.old_root is None else root.old_root.hex(),
        "ccf_txid": root.ccf_txid,
        "issued_at": root.issued_at,
        "signature_checked": root.signature_checked,
    }


@dataclass(frozen=True, slots=True)
class ReceiptReport:
    index: int
    service: str | None
    kid: str | None
    tree_alg: str | None
    alg: int | None
    signed_root: SignedRoot | None
    checks: tuple[Check, ...]

    @property
    def status(self) -> str:
        return worst([c.status for c in self.checks])

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "status": self.status,
            "service": self.service,
            "kid": self.kid,
            "tree_alg": self.tree_alg,
            "alg": None if self.alg is None else alg_name(self.alg),
            "signed_root": None if self.signed_root is None else signed_root_json(self.signed_root),
            "checks": [c.to_json() for c in self.checks],
        }


@dataclass(frozen=True, slots=True)
class StatementReport:
    issuer: str | None
    subject: str | None
    content_type: str | None
    alg: int | None
    checks: tuple[Check, ...]
    receipts: tuple[ReceiptReport, ...] = field(default=())

    @property
    def status(self) -> str:
        return worst([c.status for c in self.checks] + [r.status for r in self.receipts])

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "issuer": self.issuer,
            "subject": self.subject,
            "content_type": self.content_type,
            "alg": None if self.alg is None else alg_name(self.alg),
            "checks": [c.to_json() for c in self.checks],
            "receipts": [r.to_json() for r in self.receipts],
        }
