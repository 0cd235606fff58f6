"""Findings: what a monitor reports, as self-contained JSON anyone can check offline.

An entry finding carries the entry (base64), its index, the parsed claim, the
rule and reason, the cosigned checkpoint note and an RFC 6962 inclusion proof
of the entry in that checkpoint's tree: with the log's key (and the witness
policy) a third party verifies the entry was logged, without trusting the
monitor. An integrity finding carries the checkpoints and the data that show
the log lied (two checkpoints of one size with different roots, a
consistency proof that fails, entries that do not hash to the signed root).

Format (``witnessnet-monitor-finding/v1``), one JSON object:

    {"format": ..., "rule": ..., "summary": ..., "log": {"name", "origin"},
     "index": N, "entry": base64, "claim": {...} | null, "related_index": N?,
     "checkpoint": "<note>", "inclusion_proof": [base64, ...]}          (entries)
    {"format": ..., "rule": "integrity", "problem": ..., "summary": ...,
     "log": {...}, "evidence": {...}}                                   (integrity)
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from monitor.rules import INTEGRITY, SEVERITY, Violation
from tlog.alert import Alert

FORMAT = "witnessnet-monitor-finding/v1"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True, slots=True)
class Finding:
    """A finding ready to store and alert on; body is its JSON document."""

    rule: str
    log: str
    origin: str
    index: int | None
    subject: str
    summary: str
    dedupe_key: str
    body: bytes

    def alert(self) -> Alert:
        """The alert for this finding (the JSON document as attachment)."""
        details: dict[str, str | int] = {"log": self.log, "origin": self.origin, "rule": self.rule}
        if self.index is not None:
            details["index"] = self.index
        return Alert(
            cls=SEVERITY[self.rule],
            kind=self.rule,
            subject=self.subject,
            summary=self.summary,
            dedupe_key=self.dedupe_key,
            details=details,
            attachment=self.body,
        )


def _encode(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, indent=1).encode("utf-8") + b"\n"


def entry_finding(
    log: str,
    origin: str,
    index: int,
    entry: bytes,
    violation: Violation,
    checkpoint: bytes,
    proof: Sequence[bytes],
) -> Finding:
    """The finding for a rule violated by the entry at index, proven included in checkpoint."""
    claim = violation.claim
    subject = f"{origin}: {claim.subject}" if claim is not None else origin
    doc: dict[str, Any] = {
        "format": FORMAT,
        "rule": violation.rule,
        "summary": violation.reason,
        "log": {"name": log, "origin": origin},
        "index": index,
        "entry": b64(entry),
        "claim": claim.describe() if claim is not None else None,
        "checkpoint": checkpoint.decode("utf-8"),
        "inclusion_proof": [b64(h) for h in proof],
    }
    if violation.related is not None:
        doc["related_index"] = violation.related
    what = claim.subject if claim is not None else ""
    key = f"monitor:{origin}:{index}:{violation.rule}:{what}"
    summary = f"{origin} entry {index}: {violation.rule}: {violation.reason}"
    return Finding(violation.rule, log, origin, index, subject, summary, key, _encode(doc))


def integrity_finding(
    log: str, origin: str, problem: str, summary: str, key: str, evidence: Mapping[str, Any]
) -> Finding:
    """An integrity finding: problem is a short name, key identifies the condition."""
    doc = {
        "format": FORMAT,
        "rule": INTEGRITY,
        "problem": problem,
        "summary": summary,
        "log": {"name": log, "origin": origin},
        "evidence": dict(evidence),
    }
    text = f"{origin}: the log lied ({problem}): {summary}"
    return Finding(
        INTEGRITY, log, origin, None, origin, text, f"monitor:{origin}:{key}", _encode(doc)
    )
