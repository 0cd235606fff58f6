"""Choosing the checkpoint to audit against: the newest that meets the policy. Pure: no I/O.

A monitor reads checkpoints from the log and from any other configured
sources (witnesses' read endpoints, distributors). Each must be signed by the
log's key with the log's origin; notes with the same checkpoint text are
merged, so cosignatures gathered from several witnesses add up. With a
policy, the newest checkpoint whose cosignatures meet its quorum is chosen;
without one, the newest the log signed. Two log-signed checkpoints of the
same size with different roots are reported as a conflict: proof that the
log equivocated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from tlog.checkpoint import Checkpoint, parse_checkpoint
from tlog.errors import TlogError
from tlog.note import Note, Signature, Verifier, parse_note, verify_note
from tlog.policy import Policy


@dataclass(frozen=True, slots=True)
class Candidate:
    """A log-signed checkpoint, with every signature line its sources carried."""

    checkpoint: Checkpoint
    note: Note
    cosigners: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Selection:
    """The chosen checkpoint (None if no source qualifies), why others were passed over,
    and pairs of log-signed checkpoints of one size with different roots."""

    chosen: Candidate | None
    passed_over: tuple[str, ...]
    conflicts: tuple[tuple[Note, Note], ...]


def _merge(a: Note, b: Note) -> Note:
    seen = set(a.signatures)
    extra: list[Signature] = [s for s in b.signatures if s not in seen]
    return Note(a.text, a.signatures + tuple(extra))


def select_checkpoint(
    sources: Sequence[tuple[str, bytes]],
    log_key: Verifier,
    origin: str,
    policy: Policy | None,
) -> Selection:
    """Choose among (source name, note bytes); see the module docstring."""
    passed_over: list[str] = []
    by_text: dict[str, Note] = {}
    for name, data in sources:
        try:
            note = parse_note(data)
            verify_note(note, [log_key])
            checkpoint = parse_checkpoint(note.text)
        except TlogError as e:
            passed_over.append(f"{name}: {e}")
            continue
        if checkpoint.origin != origin:
            passed_over.append(f"{name}: origin {checkpoint.origin!r}, want {origin!r}")
            continue
        known = by_text.get(note.text)
        by_text[note.text] = note if known is None else _merge(known, note)
    candidates = sorted(
        (Candidate(parse_checkpoint(text), note) for text, note in by_text.items()),
        key=lambda c: c.checkpoint.size,
        reverse=True,
    )
    conflicts = tuple(
        (a.note, b.note) for a, b in pairwise(candidates) if a.checkpoint.size == b.checkpoint.size
    )
    for candidate in candidates:
        if policy is None:
            return Selection(candidate, tuple(passed_over), conflicts)
        try:
            signed = policy.check_quorum(candidate.note)
        except TlogError as e:
            passed_over.append(f"checkpoint of size {candidate.checkpoint.size}: {e}")
            continue
        chosen = Candidate(candidate.checkpoint, candidate.note, frozenset(signed))
        return Selection(chosen, tuple(passed_over), conflicts)
    return Selection(None, tuple(passed_over), conflicts)
