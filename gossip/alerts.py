"""The alerts gossip raises, as tlog.alert.Alert values (docs/gossip.md, "Alerts").

- `split-view` (page): this witness froze a log on proof that it forked. Raised
  once per log, when the first proof freezes it; the dedupe key names the
  fingerprint of that proof.
- `witness-equivocation` (page): proof that a witness cosigned both sides of a
  fork. Raised once per log and witness.
- `log-suspicion` (warn): a log did not produce a consistency proof that a
  witness needed (this one or a peer). Keyed by log and the two sizes, so that
  every witness reporting the same gap raises one condition.
"""

from __future__ import annotations

from gossip.evidence import SuspicionFile, VerifiedEvidence
from tlog.alert import Alert


def split_view(verified: VerifiedEvidence, file: bytes, source: str) -> Alert:
    """Page: the log of `verified` forked, and this witness has frozen it."""
    a, b = verified.first, verified.second
    return Alert(
        cls="page",
        kind="split-view",
        subject=verified.origin,
        summary=(
            f"{verified.origin} signed inconsistent checkpoints of sizes {a.size} and {b.size}; "
            "this witness will not cosign it again"
        ),
        dedupe_key=f"split-view {verified.origin} {verified.fingerprint}",
        details={
            "fingerprint": verified.fingerprint,
            "evidence_kind": verified.kind.value,
            "size_1": a.size,
            "size_2": b.size,
            "source": source,
        },
        attachment=file,
    )


def equivocation(verified: VerifiedEvidence, file: bytes, source: str) -> Alert:
    """Page: the witness of `verified` cosigned both sides of a fork."""
    witness = verified.witness or ""
    return Alert(
        cls="page",
        kind="witness-equivocation",
        subject=witness,
        summary=f"witness {witness} cosigned both sides of a fork of {verified.origin}",
        dedupe_key=f"witness-equivocation {verified.origin} {witness}",
        details={
            "origin": verified.origin,
            "fingerprint": verified.fingerprint,
            "size_1": verified.first.size,
            "size_2": verified.second.size,
            "source": source,
        },
        attachment=file,
    )


def suspicion(s: SuspicionFile, file: bytes, source: str) -> Alert:
    """Warn: a log did not produce a needed consistency proof (never a page: not proof)."""
    a, b = s.smaller.checkpoint, s.larger.checkpoint
    return Alert(
        cls="warn",
        kind="log-suspicion",
        subject=a.origin,
        summary=(
            f"{a.origin} did not produce a valid consistency proof from size {a.size} to "
            f"{b.size} after {s.attempts} attempts (reported by {s.reporter})"
        ),
        dedupe_key=f"log-suspicion {a.origin} {a.size} {b.size}",
        details={
            "reporter": s.reporter,
            "reason": s.reason.value,
            "attempts": s.attempts,
            "size_1": a.size,
            "size_2": b.size,
            "source": source,
        },
        attachment=file,
    )
