"""The pure decisions of a gossip exchange (gossip.reconcile), on real forked trees."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gossip.evidence import (
    Kind,
    Reason,
    build_suspicion,
    parse_evidence,
    verify_evidence,
)
from gossip.messages import CheckpointRequest, DigestEntry, Proof, Want, origin_hash
from gossip.reconcile import (
    Advance,
    AlreadyKnown,
    Conflict,
    LogView,
    NeedProof,
    Offer,
    PeerBehind,
    Proven,
    Rejected,
    Same,
    Suspected,
    Unverifiable,
    answer_request,
    check_proof,
    classify,
    cosigner_tag,
    make_digest,
    merge_cosignatures,
    plan_exchange,
    receive_evidence,
)
from tests.gossip import (
    COSIGNERS,
    LOG,
    LOG_VERIFIERS,
    ORIGIN,
    OTHER_LOG,
    WITNESS_KEYS,
    WITNESSES,
    checkpoint,
    cosign,
    forked,
)
from tlog.merkle import MemoryTree
from tlog.note import Note, Signature, Verifier, parse_note

A, B = forked(5, 40)
H = origin_hash(ORIGIN)


def trusted(origin: str) -> Sequence[Verifier] | None:
    return LOG_VERIFIERS if origin == ORIGIN else None


def view_of(tree: MemoryTree, size: int, *witnesses: int) -> dict[str, LogView]:
    note = cosign(checkpoint(tree, size), *(COSIGNERS[w] for w in witnesses))
    return {ORIGIN: LogView(ORIGIN, size, tree.root(size), note)}


def cosigners_of(note: bytes) -> list[str]:
    return [s.name for s in parse_note(note).signatures if s.name != LOG.name]


def digest_entry(tree: MemoryTree, size: int, *witnesses: int) -> DigestEntry:
    return make_digest(view_of(tree, size, *witnesses).values()).entries[0]


# The digest and the plan.


def test_digest_lists_every_followed_log_sorted() -> None:
    views = [
        LogView("example.com/empty"),
        *view_of(A, 10).values(),
        LogView("example.com/other", 3, bytes(32), checkpoint(A, 3, OTHER_LOG)),
    ]
    d = make_digest(views)
    assert [e.origin_hash for e in d.entries] == sorted(origin_hash(v.origin) for v in views)
    empty = next(e for e in d.entries if e.origin_hash == origin_hash("example.com/empty"))
    assert (empty.size, empty.root, empty.tag) == (0, bytes(32), bytes(2))


def test_cosigner_tag_depends_on_the_set_of_cosigners_only() -> None:
    one, two = view_of(A, 10, 0)[ORIGIN].note, view_of(A, 10, 0, 1)[ORIGIN].note
    swapped = view_of(A, 10, 1, 0)[ORIGIN].note
    assert cosigner_tag(one) != cosigner_tag(two) == cosigner_tag(swapped)
    assert cosigner_tag(None) == bytes(2)


@pytest.mark.parametrize(
    ("mine", "peer", "offers", "wants"),
    [
        ((A, 10, 0), (A, 10, 0), [], []),
        ((A, 10, 0), (A, 10, 1), [10], [10]),
        ((A, 10, 0), (B, 10, 0), [10], [10]),
        ((A, 12, 0), (A, 10, 0), [10], []),
        ((A, 10, 0), (A, 12, 0), [], [10]),
        ((A, 10, 0), (B, 30, 0), [], [10]),
    ],
)
def test_plan_exchange(
    mine: tuple[MemoryTree, int, int],
    peer: tuple[MemoryTree, int, int],
    offers: list[int],
    wants: list[int],
) -> None:
    digest = make_digest(view_of(*peer).values())
    plan = plan_exchange(view_of(*mine), digest)
    assert plan.offers == tuple(Offer(ORIGIN, peer[1]) for _ in offers)
    assert plan.wants == tuple(Want(H, w) for w in wants)
    assert plan.request() == (CheckpointRequest(plan.wants) if wants else None)


def test_plan_skips_logs_only_one_side_follows_and_empty_logs() -> None:
    unknown = LogView("example.com/other", 5, bytes(32), checkpoint(A, 5, OTHER_LOG))
    peer = make_digest([unknown, LogView(ORIGIN)])
    assert plan_exchange(view_of(A, 10), peer).wants == ()
    assert plan_exchange({ORIGIN: LogView(ORIGIN)}, peer).offers == ()
    # A log we follow but have nothing of: ask for it.
    ours_empty = plan_exchange({ORIGIN: LogView(ORIGIN)}, make_digest(view_of(A, 7).values()))
    assert ours_empty.wants == (Want(H, 0),)


def test_log_view_is_all_or_nothing() -> None:
    for args in ((5,), (5, bytes(32)), (0, bytes(32), b"note"), (5, None, b"note")):
        with pytest.raises(ValueError, match="together"):
            LogView(ORIGIN, *args)


def test_answer_request() -> None:
    request = CheckpointRequest((Want(H, 3), Want(origin_hash("example.com/unknown"), 0)))
    assert answer_request(view_of(A, 10), request) == (Offer(ORIGIN, 3),)
    assert answer_request({ORIGIN: LogView(ORIGIN)}, request) == ()


# Classification.


def test_same_checkpoint_aggregates_cosignatures() -> None:
    mine = view_of(A, 10, 0)
    theirs = cosign(checkpoint(A, 10), COSIGNERS[1], COSIGNERS[0])
    outcome = classify(theirs, mine, trusted, WITNESSES)
    assert isinstance(outcome, Same)
    assert outcome.added == (WITNESSES[1].name,)
    assert cosigners_of(outcome.note) == [WITNESSES[0].name, WITNESSES[1].name]
    # Merging again adds nothing.
    again = classify(
        outcome.note, {ORIGIN: LogView(ORIGIN, 10, A.root(10), outcome.note)}, trusted, WITNESSES
    )
    assert isinstance(again, Same) and again.added == ()


def test_merge_drops_forged_and_unknown_cosignatures() -> None:
    good = cosign(checkpoint(A, 10), COSIGNERS[1])
    note = parse_note(good)
    forged = Signature(COSIGNERS[2].name, COSIGNERS[2].key_id, bytes(72))
    stranger = Signature("stranger", 1, bytes(72))
    noisy = Note(note.text, (*note.signatures, forged, stranger)).to_bytes()
    merged, added = merge_cosignatures(checkpoint(A, 10), noisy, LOG_VERIFIERS, WITNESSES)
    assert merged == good and added == (WITNESSES[1].name,)
    with pytest.raises(ValueError, match="different checkpoints"):
        merge_cosignatures(checkpoint(A, 10), checkpoint(A, 11), LOG_VERIFIERS, WITNESSES)


def test_newer_with_a_valid_proof_advances() -> None:
    theirs = cosign(checkpoint(A, 30), COSIGNERS[2])
    proof = Proof(H, 10, 30, tuple(A.consistency_proof(10, 30)))
    wrong_sizes = Proof(H, 9, 30, tuple(A.consistency_proof(9, 30)))
    outcome = classify(theirs, view_of(A, 10), trusted, WITNESSES, [wrong_sizes, proof])
    assert outcome == Advance(ORIGIN, 10, proof.hashes, theirs)


def test_first_checkpoint_needs_no_proof() -> None:
    theirs = checkpoint(A, 30)
    for view in ({}, {ORIGIN: LogView(ORIGIN)}):
        assert classify(theirs, view, trusted, WITNESSES) == Advance(ORIGIN, 0, (), theirs)


def test_newer_without_a_good_proof_needs_one() -> None:
    theirs = checkpoint(A, 30)
    outcome = classify(theirs, view_of(A, 10), trusted, WITNESSES)
    assert outcome == NeedProof(ORIGIN, 10, 30, theirs, "no consistency proof attached")
    garbage = Proof(H, 10, 30, tuple(bytes([i]) * 32 for i in range(5)))
    outcome = classify(theirs, view_of(A, 10), trusted, WITNESSES, [garbage])
    assert isinstance(outcome, NeedProof) and "does not verify" in outcome.reason
    assert not outcome.prefix_root_needed
    # The shell then asks the log and tries again.
    mine = view_of(A, 10)[ORIGIN]
    good = check_proof(mine, theirs, A.consistency_proof(10, 30), LOG_VERIFIERS, WITNESSES)
    assert isinstance(good, Advance)


def test_older_peer() -> None:
    outcome = classify(checkpoint(B, 3), view_of(A, 10), trusted, WITNESSES)
    assert outcome == PeerBehind(ORIGIN, 3, 10)
    assert classify(checkpoint(MemoryTree(), 0), view_of(A, 10), trusted, WITNESSES) == (
        PeerBehind(ORIGIN, 0, 10)
    )


def test_same_size_different_root_is_a_conflict_with_evidence() -> None:
    outcome = classify(
        cosign(checkpoint(B, 10), COSIGNERS[1]), view_of(A, 10, 0), trusted, WITNESSES
    )
    assert isinstance(outcome, Conflict)
    v = verify_evidence(outcome.evidence, LOG_VERIFIERS)
    assert v == outcome.verified and v.kind is Kind.SAME_SIZE
    assert outcome.equivocations == ()


def test_bad_proof_that_proves_a_fork_is_a_conflict() -> None:
    theirs = checkpoint(B, 30)
    proof = Proof(H, 10, 30, tuple(B.consistency_proof(10, 30)))
    outcome = classify(theirs, view_of(A, 10), trusted, WITNESSES, [proof])
    assert isinstance(outcome, Conflict)
    assert outcome.verified.kind is Kind.INCONSISTENT_SIZES
    assert (outcome.verified.first.size, outcome.verified.second.size) == (10, 30)


def test_power_of_two_fork_needs_the_prefix_root() -> None:
    theirs = checkpoint(B, 30)
    proof = B.consistency_proof(16, 30)
    outcome = classify(theirs, view_of(A, 16), trusted, WITNESSES, [Proof(H, 16, 30, tuple(proof))])
    assert isinstance(outcome, NeedProof) and outcome.prefix_root_needed
    mine = view_of(A, 16)[ORIGIN]
    done = check_proof(mine, theirs, proof, LOG_VERIFIERS, WITNESSES, prefix_root=B.root(16))
    assert isinstance(done, Conflict) and done.verified.prefix_root == B.root(16)


def test_witness_that_cosigned_both_sides_is_caught() -> None:
    mine = view_of(A, 10, 0, 2)
    theirs = cosign(checkpoint(B, 12), COSIGNERS[1], COSIGNERS[2])
    proof = Proof(H, 10, 12, tuple(B.consistency_proof(10, 12)))
    outcome = classify(theirs, mine, trusted, WITNESSES, [proof])
    assert isinstance(outcome, Conflict)
    (equivocation,) = outcome.equivocations
    v = verify_evidence(equivocation, LOG_VERIFIERS, WITNESSES)
    assert (v.kind, v.basis, v.witness) == (
        Kind.WITNESS_EQUIVOCATION,
        Kind.INCONSISTENT_SIZES,
        WITNESSES[2].name,
    )


def test_unverifiable_checkpoints_are_counted() -> None:
    view = view_of(A, 10)
    garbage = classify(b"garbage", view, trusted, WITNESSES)
    assert isinstance(garbage, Unverifiable) and garbage.reason == "malformed"
    other = classify(checkpoint(A, 10, OTHER_LOG), view, trusted, WITNESSES)
    assert isinstance(other, Unverifiable) and other.reason == "unknown_log"
    note = parse_note(checkpoint(B, 11))
    sig = note.signatures[0]
    broken = Note(note.text, (Signature(sig.name, sig.key_id, bytes(64)),)).to_bytes()
    bad = classify(broken, view, trusted, WITNESSES)
    assert isinstance(bad, Unverifiable) and bad.reason == "bad_signature"


@settings(max_examples=60, deadline=None)
@given(
    common=st.integers(0, 20),
    mine_size=st.integers(1, 40),
    their_size=st.integers(1, 40),
)
def test_classification_matches_the_truth(common: int, mine_size: int, their_size: int) -> None:
    """Ours from history A, theirs from history B (same first `common` entries), with
    the proof the log computes from the larger tree: a conflict exactly when the two
    checkpoints are inconsistent and ours is not the newer."""
    a, b = forked(common, 40)
    view = view_of(a, mine_size)
    theirs = checkpoint(b, their_size)
    proofs = []
    if their_size > mine_size:
        proofs = [
            Proof(H, mine_size, their_size, tuple(b.consistency_proof(mine_size, their_size)))
        ]
    outcome = classify(theirs, view, trusted, WITNESSES, proofs)
    consistent = min(mine_size, their_size) <= common
    if their_size < mine_size:
        assert isinstance(outcome, PeerBehind)
    elif consistent:
        assert isinstance(outcome, Same if their_size == mine_size else Advance)
    elif isinstance(outcome, NeedProof):
        assert outcome.prefix_root_needed
        outcome = check_proof(
            view[ORIGIN], theirs, proofs[0].hashes, LOG_VERIFIERS, WITNESSES, b.root(mine_size)
        )
    if their_size >= mine_size and not consistent:
        assert isinstance(outcome, Conflict)
        assert verify_evidence(outcome.evidence, LOG_VERIFIERS) == outcome.verified


# Receiving evidence.


def suspicion() -> bytes:
    return build_suspicion(
        WITNESS_KEYS[1],
        Reason.BAD_PROOF,
        3,
        "",
        checkpoint(A, 8),
        checkpoint(B, 30),
        LOG_VERIFIERS,
        1_700_000_000,
    )


def test_receive_evidence() -> None:
    conflict = classify(checkpoint(B, 10), view_of(A, 10), trusted, WITNESSES)
    assert isinstance(conflict, Conflict)
    proven = receive_evidence(conflict.evidence, trusted, WITNESSES)
    assert proven == Proven(conflict.evidence, conflict.verified)
    known = receive_evidence(conflict.evidence, trusted, WITNESSES, {conflict.verified.fingerprint})
    assert known == AlreadyKnown(conflict.verified.fingerprint)
    s = receive_evidence(suspicion(), trusted, WITNESSES)
    assert isinstance(s, Suspected) and s.suspicion.reporter == WITNESS_KEYS[1].name
    assert isinstance(parse_evidence(s.file), type(s.suspicion))


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: b"witnessnet-evidence/v1\n", "malformed"),
        (lambda: suspicion()[:-3] + b"AA\n", "malformed"),
        (lambda: suspicion().replace(b"attempts 3", b"attempts 4"), "not_proof"),
        (lambda: checkpoint(A, 1), "malformed"),
    ],
)
def test_receive_rejects(make: Callable[[], bytes], reason: str) -> None:
    outcome = receive_evidence(make(), trusted, WITNESSES)
    assert isinstance(outcome, Rejected) and outcome.reason == reason, outcome


def test_receive_rejects_unknown_logs_and_non_proof() -> None:
    conflict = classify(checkpoint(B, 10), view_of(A, 10), trusted, WITNESSES)
    assert isinstance(conflict, Conflict)
    unknown = receive_evidence(conflict.evidence, lambda origin: None, WITNESSES)
    assert isinstance(unknown, Rejected) and unknown.reason == "unknown_log"
    wrong_key = receive_evidence(conflict.evidence, lambda o: [OTHER_LOG.verifier()], WITNESSES)
    assert isinstance(wrong_key, Rejected) and wrong_key.reason == "not_proof"
