"""The add-checkpoint protocol of C2SP tlog-witness, as pure functions (sans-I/O).

A request body is an `old <size>` line, up to 63 base64 consistency proof lines,
an empty line, then a signed checkpoint note. The witness checks, in the
spec's order:

1. the origin is a log it knows (else 404);
2. a signature from one of the log's keys verifies, and no known-key signature
   fails (else 403);
3. old size <= checkpoint size (else 400);
4. old size == the stored size, 0 if nothing was ever cosigned (else 409 with
   the stored size);
5. the proof is a consistency proof from the stored checkpoint to the new one,
   empty when the old size is 0 or equal to the new size (else 422);
6. when the sizes are equal, the roots are equal (else 409: a fork).

A body that does not follow the grammar is a 400 before any of these. Steps 1-3
depend only on the request and the trusted keys (`verify_request`); steps 4-6
compare against the stored state (`decide`), which the caller must commit with a
compare-and-swap before it cosigns anything. A log-signed checkpoint refused at
step 5 or 6 contradicts the cosigned one, as far as the witness can tell: the
spec allows keeping it, and `rejection` says what to keep.
"""

from __future__ import annotations

import base64
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tlog.checkpoint import Checkpoint, parse_checkpoint, parse_hash, parse_size
from tlog.errors import CheckpointError, NoteError, ProofError
from tlog.keys import tree_hash_rule
from tlog.merkle import RFC6962, HashRule, verify_consistency
from tlog.note import Note, Verifier, check_text, parse_note, verify_note
from witness.errors import MalformedRequestError

MAX_PROOF_LINES = 63


class Reason(enum.Enum):
    """Why a request was not cosigned; `value` is the metric label, `status` the HTTP code."""

    MALFORMED = ("malformed", 400)
    UNKNOWN_LOG = ("unknown_log", 404)
    BAD_SIGNATURE = ("bad_signature", 403)
    OLD_AFTER_NEW = ("old_after_new", 400)
    RATE_LIMITED = ("rate_limited", 429)
    CONFLICT = ("conflict", 409)
    BAD_PROOF = ("bad_proof", 422)
    FORK = ("fork", 409)
    FROZEN = ("frozen", 403)

    def __init__(self, label: str, status: int) -> None:
        self.label = label
        self.status = status


@dataclass(frozen=True, slots=True)
class AddCheckpointRequest:
    """A parsed add-checkpoint body; `note` is the checkpoint note exactly as submitted."""

    old_size: int
    proof: tuple[bytes, ...]
    note: bytes

    def to_bytes(self) -> bytes:
        """The request body (what a client or feeder sends)."""
        lines = [f"old {self.old_size}".encode()] + [base64.b64encode(h) for h in self.proof]
        return b"\n".join(lines) + b"\n\n" + self.note


@dataclass(frozen=True, slots=True)
class Verified:
    """A request whose checkpoint is signed by the log and whose sizes are in order."""

    request: AddCheckpointRequest
    checkpoint: Checkpoint
    rule: HashRule = RFC6962
    """The log's Merkle hash rule, implied by its key type (tlog.keys.tree_hash_rule)."""


@dataclass(frozen=True, slots=True)
class LogState:
    """What the witness stores per log: its latest cosigned checkpoint.

    `root` and `checkpoint` are None until the first checkpoint is cosigned;
    `updated` is the POSIX time of the last advance.
    """

    origin: str
    size: int = 0
    root: bytes | None = None
    checkpoint: bytes | None = None
    updated: float | None = None


@dataclass(frozen=True, slots=True)
class Advance:
    """One state change and the evidence that justified it (a history row)."""

    origin: str
    old_size: int
    new_size: int
    checkpoint: bytes
    proof: tuple[bytes, ...]
    time: float


@dataclass(frozen=True, slots=True)
class Rejection:
    """A log-signed checkpoint refused at step 5 or 6, kept as possible evidence.

    `reason` is the Reason label (bad_proof or fork); `checkpoint` and `proof` are
    as submitted, `cosigned` is the stored checkpoint they contradict.
    """

    origin: str
    reason: str
    old_size: int
    new_size: int
    checkpoint: bytes
    proof: tuple[bytes, ...]
    cosigned: bytes
    time: float


@dataclass(frozen=True, slots=True)
class Accept:
    """Cosign `checkpoint`; first store `state`, recording `advance`, unless advance is None
    (the checkpoint is the one already stored: cosign it again, store nothing)."""

    checkpoint: Checkpoint
    state: LogState
    advance: Advance | None


@dataclass(frozen=True, slots=True)
class Reject:
    """Do not cosign. `size` is the stored size that a 409 response carries;
    `retry_after` the seconds a rate-limited log must wait."""

    reason: Reason
    detail: str
    size: int | None = None
    retry_after: int | None = None


def parse_request(body: bytes) -> AddCheckpointRequest:
    """Split an add-checkpoint body; raise MalformedRequestError saying what and where.

    The checkpoint note is not parsed here (see verify_request).
    """
    split = body.find(b"\n\n")
    if split < 0:
        raise MalformedRequestError("body has no empty line before the checkpoint")
    try:
        header = body[:split].decode("ascii").split("\n")
    except UnicodeDecodeError as e:
        raise MalformedRequestError(f"non-ASCII byte at offset {e.start}") from None
    old_line, proof_lines = header[0], header[1:]
    if not old_line.startswith("old "):
        raise MalformedRequestError("line 1: want 'old <size>'")
    if len(proof_lines) > MAX_PROOF_LINES:
        raise MalformedRequestError(
            f"{len(proof_lines)} consistency proof lines, at most {MAX_PROOF_LINES} allowed"
        )
    try:
        old_size = parse_size(old_line[4:], "line 1: old size")
        proof = tuple(
            parse_hash(line, f"line {i}: proof hash") for i, line in enumerate(proof_lines, 2)
        )
    except CheckpointError as e:
        raise MalformedRequestError(str(e)) from None
    note = body[split + 2 :]
    if not note:
        raise MalformedRequestError("body has no checkpoint after the empty line")
    return AddCheckpointRequest(old_size, proof, note)


def _checkpoint_text(note: bytes) -> Checkpoint:
    """The checkpoint body of a note, parsed without looking at the signatures."""
    try:
        text = note.decode("utf-8")
    except UnicodeDecodeError as e:
        raise MalformedRequestError(f"checkpoint is not UTF-8 at byte {e.start}") from None
    split = text.rfind("\n\n")
    if split < 0:
        raise MalformedRequestError("checkpoint note has no empty line before its signatures")
    try:
        check_text(text[: split + 1])
        return parse_checkpoint(text[: split + 1])
    except (NoteError, CheckpointError) as e:
        raise MalformedRequestError(f"checkpoint: {e}") from None


def verify_request(
    request: AddCheckpointRequest, trusted: Callable[[str], Sequence[Verifier] | None]
) -> Verified | Reject:
    """Steps 1-3: known origin, a valid log signature, old size <= checkpoint size.

    `trusted(origin)` returns the log's verifiers, or None for an unknown origin.
    Signature lines that do not parse count as signatures that do not verify (403):
    the checkpoint text is fine, the log's signature is what is missing.
    """
    # The hot path parses the note once; only a note that does not parse is looked at
    # again, to tell a malformed checkpoint (400) from malformed signature lines (403).
    try:
        note: Note | NoteError = parse_note(request.note)
        checkpoint = parse_checkpoint(note.text)
    except NoteError as e:
        note = e
        try:
            checkpoint = _checkpoint_text(request.note)
        except MalformedRequestError as e:
            return Reject(Reason.MALFORMED, str(e))
    except CheckpointError as e:
        return Reject(Reason.MALFORMED, f"checkpoint: {e}")
    verifiers = trusted(checkpoint.origin)
    if verifiers is None:
        return Reject(Reason.UNKNOWN_LOG, f"unknown log {checkpoint.origin!r}")
    if isinstance(note, NoteError):
        return Reject(Reason.BAD_SIGNATURE, f"invalid signature: {note}")
    try:
        verify_note(note, verifiers)
    except NoteError as e:
        return Reject(Reason.BAD_SIGNATURE, f"invalid signature: {e}")
    if request.old_size > checkpoint.size:
        return Reject(
            Reason.OLD_AFTER_NEW,
            f"old size {request.old_size} is larger than the checkpoint size {checkpoint.size}",
        )
    return Verified(request, checkpoint, tree_hash_rule(verifiers))


def decide(state: LogState, verified: Verified, now: float) -> Accept | Reject:
    """Steps 4-6 against the stored state of the checkpoint's log.

    Never accepts a checkpoint inconsistent with `state`, and never a smaller one:
    every accepted checkpoint extends, or equals, the stored one.
    """
    request, cp = verified.request, verified.checkpoint
    old, proof = request.old_size, request.proof
    if state.origin != cp.origin:
        raise ValueError(f"state of {state.origin!r} used for a checkpoint of {cp.origin!r}")
    if old != state.size:
        return Reject(
            Reason.CONFLICT,
            f"old size {old} is not the size of the latest cosigned checkpoint, {state.size}",
            size=state.size,
        )
    if old == cp.size and not proof and state.root is not None:
        if state.root != cp.root:
            return Reject(
                Reason.FORK,
                f"checkpoint of size {cp.size} has a different root than the cosigned one",
                size=state.size,
            )
        return Accept(cp, state, None)
    # Before the first cosignature the stored size is 0, and a size-0 tree is a prefix
    # of every tree: there is no old root to compare.
    old_root = cp.root if state.root is None else state.root
    try:
        verify_consistency(old, cp.size, old_root, cp.root, proof, verified.rule)
    except ProofError as e:
        return Reject(Reason.BAD_PROOF, f"consistency proof: {e}")
    new = LogState(cp.origin, cp.size, cp.root, request.note, now)
    return Accept(cp, new, Advance(cp.origin, old, cp.size, request.note, proof, now))


def rejection(state: LogState, verified: Verified, reject: Reject, now: float) -> Rejection | None:
    """What to keep of a request `decide` rejected against `state`, if anything.

    Only a checkpoint whose log signature verified and that failed the consistency
    check against a cosigned checkpoint (bad proof, or same size with another root)
    is kept; before the first cosignature there is nothing it could contradict.
    """
    if reject.reason not in (Reason.BAD_PROOF, Reason.FORK) or state.checkpoint is None:
        return None
    request, cp = verified.request, verified.checkpoint
    return Rejection(
        cp.origin,
        reject.reason.label,
        request.old_size,
        cp.size,
        request.note,
        request.proof,
        state.checkpoint,
        now,
    )
