"""The decisions of one push-pull gossip exchange, as pure functions (sans-I/O).

One exchange between an initiator A and a peer B:

1. A sends its digest (make_digest). B runs plan_exchange on it and replies
   with its checkpoints for the Offers (plus a consistency proof from A's
   size where it has one) and a checkpoint-request for the Wants.
2. A runs classify on each checkpoint it received, then answer_request on
   B's request, and sends those checkpoints (and proofs) back; B classifies.

classify turns one received checkpoint into an explicit outcome for the shell:

- Same: the identical checkpoint; `note` unions both sides' verified
  cosignatures (cosignature aggregation), `added` names the new cosigners.
- Advance: newer and proven consistent: submit through the witness's
  add-checkpoint path with `old_size` and `proof`.
- NeedProof: newer, but no proof that verifies: fetch one from the log (API or
  tiles) and call check_proof. If the log will not produce one, report a
  suspicion (gossip.evidence.build_suspicion), never proof.
- PeerBehind: older than ours: nothing to do; the peer receives ours in the
  same exchange and checks consistency itself.
- Conflict: proven inconsistent: `evidence` is a same-size-different-roots or
  inconsistent-sizes file, plus a witness-equivocation file for every known
  witness that cosigned both. Freeze cosigning for the log, store, alert, and
  push the evidence to every peer.
- Unverifiable: malformed, an unknown log, or a bad log signature: ignore and
  count by `reason`.

Same size always means same root; a size-0 checkpoint carries nothing to
compare and is never evidence.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from gossip.errors import EvidenceError
from gossip.evidence import (
    SuspicionFile,
    VerifiedEvidence,
    build_inconsistent_sizes,
    build_same_size,
    build_witness_equivocation,
    evidence_origin,
    is_power_of_two,
    parse_evidence,
    verify_evidence,
    verify_suspicion,
)
from gossip.messages import (
    TAG_SIZE,
    CheckpointRequest,
    Digest,
    DigestEntry,
    Proof,
    Want,
    origin_hash,
)
from tlog.checkpoint import Checkpoint, parse_checkpoint
from tlog.errors import CheckpointError, MalformedNoteError, NoteError, ProofError
from tlog.keys import tree_hash_rule
from tlog.merkle import verify_consistency
from tlog.note import MAX_SIGNATURES, Note, Verifier, parse_note, verify_note

TrustedLogs = Callable[[str], Sequence[Verifier] | None]
"""`trusted(origin)`: the verifiers of a log this witness follows, or None."""

_ZERO_ROOT = bytes(32)
_ZERO_TAG = bytes(TAG_SIZE)


@dataclass(frozen=True, slots=True)
class LogView:
    """This witness's view of one log: its latest checkpoint and every cosignature it knows.

    `root` and `note` are given together with a size > 0, or not at all: a followed
    log with nothing yet (or only an empty tree) has size 0. The note is trusted:
    the witness verified it before storing it. The origin hash and the cosigner tag
    are computed once, here, so that comparing digests parses no notes.
    """

    origin: str
    size: int = 0
    root: bytes | None = None
    note: bytes | None = None
    origin_hash: bytes = field(init=False)
    tag: bytes = field(init=False)

    def __post_init__(self) -> None:
        if (self.size > 0) != (self.root is not None) or (self.root is None) != (self.note is None):
            raise ValueError(f"view of {self.origin}: give size > 0, root and note together")
        object.__setattr__(self, "origin_hash", origin_hash(self.origin))
        object.__setattr__(self, "tag", cosigner_tag(self.note))


def cosigner_tag(note: bytes | None) -> bytes:
    """2 bytes of SHA-256 over the sorted `name+keyid` of the note's signature lines."""
    if note is None:
        return _ZERO_TAG
    ids = sorted({f"{s.name}+{s.key_id:08x}" for s in parse_note(note).signatures})
    return hashlib.sha256("\n".join(ids).encode()).digest()[:TAG_SIZE]


def make_digest(view: Iterable[LogView]) -> Digest:
    """The digest of every followed log, including those with nothing yet (size 0)."""
    entries = [DigestEntry(v.origin_hash, v.size, v.root or _ZERO_ROOT, v.tag) for v in view]
    return Digest(tuple(sorted(entries, key=lambda e: e.origin_hash)))


@dataclass(frozen=True, slots=True)
class Offer:
    """Send our checkpoint of `origin`, with a consistency proof from `peer_size` if we have
    one (0 < peer_size < our size)."""

    origin: str
    peer_size: int


@dataclass(frozen=True, slots=True)
class Plan:
    """What to send (offers) and ask for (wants) after reading a peer's digest."""

    offers: tuple[Offer, ...]
    wants: tuple[Want, ...]

    def request(self) -> CheckpointRequest | None:
        """The checkpoint-request payload for the wants, if any."""
        return CheckpointRequest(self.wants) if self.wants else None


def _by_hash(view: Mapping[str, LogView]) -> dict[bytes, LogView]:
    return {v.origin_hash: v for v in view.values()}


def plan_exchange(view: Mapping[str, LogView], peer: Digest) -> Plan:
    """Compare our view (keyed by origin) with a peer's digest.

    Per log we both follow: equal size and root and tag: nothing; equal size
    with a different root or tag: send ours and ask for theirs (a fork to
    prove, or cosignatures to aggregate); ours larger: send ours; theirs
    larger: ask for theirs. Logs only one side follows are skipped.
    """
    mine = _by_hash(view)
    offers: list[Offer] = []
    wants: list[Want] = []
    for e in peer.entries:
        v = mine.get(e.origin_hash)
        if v is None or (v.size == 0 and e.size == 0):
            continue
        if v.size == e.size:
            if v.root != e.root or v.tag != e.tag:
                offers.append(Offer(v.origin, e.size))
                wants.append(Want(e.origin_hash, v.size))
        elif v.size > e.size:
            offers.append(Offer(v.origin, e.size))
        else:
            wants.append(Want(e.origin_hash, v.size))
    return Plan(tuple(offers), tuple(wants))


def answer_request(view: Mapping[str, LogView], request: CheckpointRequest) -> tuple[Offer, ...]:
    """The checkpoints to send for a peer's request: every requested log we have one of."""
    mine = _by_hash(view)
    return tuple(
        Offer(v.origin, w.have_size)
        for w in request.wants
        if (v := mine.get(w.origin_hash)) is not None and v.size > 0
    )


def merge_cosignatures(
    base: bytes, other: bytes, log_verifiers: Sequence[Verifier], witnesses: Sequence[Verifier]
) -> tuple[bytes, tuple[str, ...]]:
    """`base` with the log's signature lines and the union of both notes' valid cosignatures.

    The notes must have the same text. Lines from unknown keys and cosignatures
    that do not verify are dropped; one line per witness key is kept, `base`'s
    first. Returns the merged note and the key names of cosigners only `other` had.
    """
    a, b = parse_note(base), parse_note(other)
    if a.text != b.text:
        raise ValueError("cannot merge cosignatures of two different checkpoints")
    logs = {(v.name, v.key_id) for v in log_verifiers}
    known: dict[tuple[str, int], list[Verifier]] = {}
    for w in witnesses:
        known.setdefault((w.name, w.key_id), []).append(w)
    text = a.text.encode("utf-8")
    kept = [s for s in a.signatures if (s.name, s.key_id) in logs]
    have: set[tuple[str, int]] = set()
    added: list[str] = []
    for source, note in (("base", a), ("other", b)):
        for s in note.signatures:
            key = (s.name, s.key_id)
            if len(kept) == MAX_SIGNATURES or key in have or key not in known:
                continue
            if any(w.verify(text, s.signature) for w in known[key]):
                have.add(key)
                kept.append(s)
                if source == "other":
                    added.append(s.name)
    return Note(a.text, tuple(kept)).to_bytes(), tuple(added)


@dataclass(frozen=True, slots=True)
class Same:
    """The checkpoint we hold; `note` has the union of cosignatures, `added` the new cosigners."""

    origin: str
    note: bytes
    added: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Advance:
    """A newer checkpoint proven consistent with ours: submit (old_size, proof, note)."""

    origin: str
    old_size: int
    proof: tuple[bytes, ...]
    note: bytes


@dataclass(frozen=True, slots=True)
class NeedProof:
    """A newer checkpoint without a proof that verifies: get one from the log.

    `prefix_root_needed`: a proof failed from a power-of-two size, where only
    the root of that prefix of the larger tree (its tile hash at level
    log2(old_size), index 0) can turn the failure into evidence.
    """

    origin: str
    old_size: int
    new_size: int
    note: bytes
    reason: str
    prefix_root_needed: bool = False


@dataclass(frozen=True, slots=True)
class PeerBehind:
    """The peer's checkpoint is older than ours."""

    origin: str
    peer_size: int
    my_size: int


@dataclass(frozen=True, slots=True)
class Conflict:
    """Proof of a fork, and of each witness that cosigned both sides."""

    origin: str
    evidence: bytes
    verified: VerifiedEvidence
    equivocations: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class Unverifiable:
    """A checkpoint to ignore; `reason` is a metric label (malformed, unknown_log,
    bad_signature)."""

    reason: str
    detail: str


Outcome = Same | Advance | NeedProof | PeerBehind | Conflict | Unverifiable


def _cosigned_by(note: Note, w: Verifier) -> bool:
    return any((s.name, s.key_id) == (w.name, w.key_id) for s in note.signatures)


def _conflict(
    origin: str,
    evidence: bytes,
    notes: tuple[bytes, bytes],
    log_verifiers: Sequence[Verifier],
    witnesses: Sequence[Verifier],
) -> Conflict:
    verified = verify_evidence(evidence, log_verifiers)
    parsed = [parse_note(n) for n in notes]
    equivocations = []
    for w in witnesses:
        if all(_cosigned_by(p, w) for p in parsed):
            try:
                equivocations.append(build_witness_equivocation(evidence, notes, w, log_verifiers))
            except EvidenceError:
                continue
    return Conflict(origin, evidence, verified, tuple(equivocations))


def check_proof(
    mine: LogView,
    note: bytes,
    proof: Sequence[bytes],
    log_verifiers: Sequence[Verifier],
    witnesses: Sequence[Verifier],
    prefix_root: bytes | None = None,
) -> Advance | Conflict | NeedProof:
    """Judge a consistency proof from our checkpoint to a newer, log-verified `note`.

    `prefix_root` (optional) is the root of our size's prefix of the newer tree,
    needed to prove a fork when our size is a power of two.
    """
    cp = parse_checkpoint(parse_note(note).text)
    if mine.root is None or mine.note is None:
        return Advance(cp.origin, 0, (), note)
    try:
        rule = tree_hash_rule(log_verifiers)  # CCF services: tlog.merkle.CCF
        verify_consistency(mine.size, cp.size, mine.root, cp.root, proof, rule)
        return Advance(cp.origin, mine.size, tuple(proof), note)
    except ProofError as e:
        failure = str(e)
    try:
        evidence = build_inconsistent_sizes(
            mine.note, note, proof, log_verifiers, prefix_root=prefix_root
        )
    except EvidenceError:
        return NeedProof(
            cp.origin,
            mine.size,
            cp.size,
            note,
            f"the consistency proof does not verify: {failure}",
            prefix_root_needed=is_power_of_two(mine.size) and prefix_root is None,
        )
    return _conflict(cp.origin, evidence, (mine.note, note), log_verifiers, witnesses)


def _open(note: bytes, trusted: TrustedLogs) -> tuple[Checkpoint, Sequence[Verifier]] | str:
    try:
        parsed = parse_note(note)
        cp = parse_checkpoint(parsed.text)
    except (MalformedNoteError, CheckpointError) as e:
        return f"malformed: {e}"
    verifiers = trusted(cp.origin)
    if verifiers is None:
        return f"unknown_log: {cp.origin!r} is not a log this witness follows"
    try:
        verify_note(parsed, verifiers)
    except NoteError as e:
        return f"bad_signature: {e}"
    return cp, verifiers


def classify(
    note: bytes,
    view: Mapping[str, LogView],
    trusted: TrustedLogs,
    witnesses: Sequence[Verifier],
    proofs: Sequence[Proof] = (),
) -> Outcome:
    """Classify one checkpoint note received from a peer against our view (keyed by origin).

    `witnesses` are the cosignature verifiers of the known witnesses; `proofs`
    the consistency proofs that came with the note.
    """
    opened = _open(note, trusted)
    if isinstance(opened, str):
        reason, _, detail = opened.partition(": ")
        return Unverifiable(reason, detail)
    cp, verifiers = opened
    mine = view.get(cp.origin) or LogView(cp.origin)
    theirs, _ = merge_cosignatures(note, note, verifiers, witnesses)
    if cp.size == 0 or cp.size < mine.size:
        return PeerBehind(cp.origin, cp.size, mine.size)
    if mine.note is None:
        return Advance(cp.origin, 0, (), theirs)
    if cp.size == mine.size:
        if cp.root != mine.root:
            evidence = build_same_size(mine.note, theirs, verifiers)
            return _conflict(cp.origin, evidence, (mine.note, theirs), verifiers, witnesses)
        if parse_note(mine.note).text != parse_note(theirs).text:
            return Same(cp.origin, mine.note, ())
        merged, added = merge_cosignatures(mine.note, theirs, verifiers, witnesses)
        return Same(cp.origin, merged, added)
    h = origin_hash(cp.origin)
    proof = next(
        (p for p in proofs if (p.origin_hash, p.old_size, p.new_size) == (h, mine.size, cp.size)),
        None,
    )
    if proof is None:
        return NeedProof(cp.origin, mine.size, cp.size, theirs, "no consistency proof attached")
    return check_proof(mine, theirs, proof.hashes, verifiers, witnesses)


@dataclass(frozen=True, slots=True)
class Proven:
    """Genuine proof, new to us: store, freeze the log, alert (page), push to every peer."""

    file: bytes
    verified: VerifiedEvidence


@dataclass(frozen=True, slots=True)
class Suspected:
    """A suspicion signed by a known witness: warn, never page; not forwarded."""

    file: bytes
    suspicion: SuspicionFile


@dataclass(frozen=True, slots=True)
class AlreadyKnown:
    """Proof we already hold (same fingerprint): do nothing, do not forward again."""

    fingerprint: str


@dataclass(frozen=True, slots=True)
class Rejected:
    """Not proof and not a valid suspicion; `reason` is a metric label."""

    reason: str
    detail: str


EvidenceOutcome = Proven | Suspected | AlreadyKnown | Rejected


def receive_evidence(
    data: bytes,
    trusted: TrustedLogs,
    witnesses: Sequence[Verifier],
    known: Container[str] = frozenset(),
) -> EvidenceOutcome:
    """Re-verify an evidence file from a peer; `known` holds fingerprints we already have."""
    try:
        f = parse_evidence(data)
    except EvidenceError as e:
        return Rejected("malformed", str(e))
    origin = evidence_origin(f)
    verifiers = trusted(origin)
    if verifiers is None:
        return Rejected("unknown_log", f"{origin!r} is not a log this witness follows")
    try:
        if isinstance(f, SuspicionFile):
            return Suspected(data, verify_suspicion(data, witnesses, verifiers))
        verified = verify_evidence(data, verifiers, witnesses)
    except EvidenceError as e:
        return Rejected("not_proof", str(e))
    if verified.fingerprint in known:
        return AlreadyKnown(verified.fingerprint)
    return Proven(data, verified)
