"""Evidence files (gossip.evidence): built from real forked trees, verified, and attacked."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gossip.errors import (
    EvidenceError,
    MalformedEvidenceError,
    NotProofError,
    SuspicionNotProofError,
)
from gossip.evidence import (
    HEADER,
    MAX_EVIDENCE_BYTES,
    Embedded,
    EquivocationFile,
    InconsistentSizesFile,
    Kind,
    Reason,
    SameSizeFile,
    build_inconsistent_sizes,
    build_same_size,
    build_suspicion,
    build_witness_equivocation,
    parse_evidence,
    verify_evidence,
    verify_suspicion,
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
from tlog.cosignature import CosignatureV1Verifier
from tlog.keys import parse_vkey
from tlog.merkle import MemoryTree

DOCS = Path(__file__).parents[2] / "docs" / "evidence-format.md"
A, B = forked(5, 40)


def same_size(size: int = 10) -> bytes:
    return build_same_size(checkpoint(A, size), checkpoint(B, size), LOG_VERIFIERS)


def inconsistent(n: int = 10, m: int = 15) -> bytes:
    prefix = B.root(n) if n & (n - 1) == 0 else None
    return build_inconsistent_sizes(
        checkpoint(A, n), checkpoint(B, m), B.consistency_proof(n, m), LOG_VERIFIERS, prefix
    )


def equivocation(fork: bytes, witness: int = 0) -> bytes:
    f = parse_evidence(fork)
    assert isinstance(f, SameSizeFile | InconsistentSizesFile)
    notes = [cosign(e.raw, COSIGNERS[witness]) for e in f.pair()]
    return build_witness_equivocation(fork, notes, WITNESSES[witness], LOG_VERIFIERS)


def suspicion() -> bytes:
    return build_suspicion(
        WITNESS_KEYS[1],
        Reason.NO_PROOF,
        5,
        "HTTP 503 from the log's proof endpoint",
        checkpoint(A, 20),
        checkpoint(A, 10),
        LOG_VERIFIERS,
        1_700_000_000,
    )


FILES = {
    "same-size": same_size(),
    "inconsistent-sizes": inconsistent(),
    "inconsistent-sizes-power-of-two": inconsistent(8, 15),
    "equivocation-same-size": equivocation(same_size()),
    "equivocation-inconsistent": equivocation(inconsistent(16, 33), witness=2),
}


@pytest.mark.parametrize("n", [6, 7, 8, 9, 10, 16, 21, 31, 32, 33])
@pytest.mark.parametrize("m", [6, 8, 11, 12, 17, 33, 40])
def test_forks_of_every_shape_are_proof(n: int, m: int) -> None:
    if n == m:
        v = verify_evidence(same_size(n), LOG_VERIFIERS)
        assert (v.kind, v.basis, v.first.size) == (Kind.SAME_SIZE, Kind.SAME_SIZE, n)
        return
    n, m = min(n, m), max(n, m)
    data = inconsistent(n, m)
    v = verify_evidence(data, LOG_VERIFIERS)
    assert (v.kind, v.origin, v.first.size, v.second.size) == (
        Kind.INCONSISTENT_SIZES,
        ORIGIN,
        n,
        m,
    )
    assert v.first.root == A.root(n) and v.second.root == B.root(m)
    assert v.prefix_root == B.root(n)
    assert (b"prefix-root " in data) == (n & (n - 1) == 0)


def test_same_size_explained() -> None:
    v = verify_evidence(FILES["same-size"], LOG_VERIFIERS)
    assert v.origin == ORIGIN and v.witness is None and v.prefix_root is None
    assert {v.first.root, v.second.root} == {A.root(10), B.root(10)}
    assert v.first.root < v.second.root
    text = v.explain()
    assert text.startswith("PROOF OF LOG MISBEHAVIOUR") and "same size 10" in text
    assert "\n" not in text


def test_equivocation_names_the_witness() -> None:
    v = verify_evidence(FILES["equivocation-inconsistent"], LOG_VERIFIERS, WITNESSES)
    assert (v.kind, v.basis, v.witness) == (
        Kind.WITNESS_EQUIVOCATION,
        Kind.INCONSISTENT_SIZES,
        WITNESSES[2].name,
    )
    assert v.explain().startswith(f"PROOF OF WITNESS EQUIVOCATION: witness {WITNESSES[2].name}")
    fork = verify_evidence(inconsistent(16, 33), LOG_VERIFIERS)
    assert v.fingerprint != fork.fingerprint


def test_equivocation_needs_the_right_witness_key() -> None:
    data = FILES["equivocation-same-size"]
    with pytest.raises(NotProofError, match="no key given for witness"):
        verify_evidence(data, LOG_VERIFIERS)
    # The accused witness's name with another witness's key: no cosignature verifies.
    wrong = CosignatureV1Verifier(WITNESSES[0].name, WITNESS_KEYS[1].public)
    with pytest.raises(NotProofError, match="no valid cosignature"):
        verify_evidence(data, LOG_VERIFIERS, [wrong])


def test_fingerprint_ignores_signature_bytes() -> None:
    """Two files proving the same fork (one with extra cosignatures dropped) name it alike."""
    plain = verify_evidence(same_size(), LOG_VERIFIERS)
    noisy = build_same_size(
        cosign(checkpoint(B, 10), COSIGNERS[3]), checkpoint(A, 10), LOG_VERIFIERS
    )
    assert noisy == same_size()
    assert verify_evidence(noisy, LOG_VERIFIERS).fingerprint == plain.fingerprint


@pytest.mark.parametrize("name", list(FILES))
def test_round_trip(name: str) -> None:
    data = FILES[name]
    assert data.startswith(HEADER.encode() + b"\n")
    assert parse_evidence(data).to_bytes() == data


@pytest.mark.parametrize("name", list(FILES))
def test_every_byte_flip_is_rejected(name: str) -> None:
    data = FILES[name]
    for i in range(len(data)):
        for flip in (0x01, 0x20):
            bad = data[:i] + bytes([data[i] ^ flip]) + data[i + 1 :]
            with pytest.raises(EvidenceError):
                verify_evidence(bad, LOG_VERIFIERS, WITNESSES)


def test_every_byte_flip_breaks_a_suspicion() -> None:
    data = suspicion()
    verify_suspicion(data, WITNESSES, LOG_VERIFIERS)
    for i in range(len(data)):
        bad = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]
        with pytest.raises(EvidenceError):
            verify_suspicion(bad, WITNESSES, LOG_VERIFIERS)


def test_suspicion_is_never_proof() -> None:
    data = suspicion()
    for witnesses in ([], WITNESSES):
        with pytest.raises(SuspicionNotProofError, match="NOT PROOF: this is a suspicion"):
            verify_evidence(data, LOG_VERIFIERS, witnesses)
    with pytest.raises(SuspicionNotProofError, match=r"signature by w1\.example/witness verifies"):
        verify_evidence(data, LOG_VERIFIERS, WITNESSES)
    s = verify_suspicion(data, WITNESSES, LOG_VERIFIERS)
    assert (s.reporter, s.reason, s.attempts) == (WITNESS_KEYS[1].name, Reason.NO_PROOF, 5)
    assert (s.smaller.checkpoint.size, s.larger.checkpoint.size) == (10, 20)
    with pytest.raises(NotProofError, match="no Ed25519 key"):
        verify_suspicion(data, WITNESSES[2:], LOG_VERIFIERS)
    with pytest.raises(NotProofError, match="not signed by the log"):
        verify_suspicion(data, WITNESSES, [OTHER_LOG.verifier()])
    with pytest.raises(MalformedEvidenceError, match="not a suspicion"):
        verify_suspicion(FILES["same-size"], WITNESSES, LOG_VERIFIERS)


def test_wrong_log_key_is_not_proof() -> None:
    for data in FILES.values():
        with pytest.raises(NotProofError, match="not signed by the log key"):
            verify_evidence(data, [OTHER_LOG.verifier()], WITNESSES)


def test_swapped_checkpoints_are_rejected() -> None:
    f = parse_evidence(FILES["same-size"])
    assert isinstance(f, SameSizeFile)
    with pytest.raises(MalformedEvidenceError, match="smaller root comes first"):
        verify_evidence(SameSizeFile(f.second, f.first).to_bytes(), LOG_VERIFIERS)
    g = parse_evidence(FILES["inconsistent-sizes"])
    assert isinstance(g, InconsistentSizesFile)
    swapped = InconsistentSizesFile(g.larger, g.smaller, g.prefix_root, g.proof).to_bytes()
    with pytest.raises(MalformedEvidenceError, match="smaller size comes first"):
        verify_evidence(swapped, LOG_VERIFIERS)
    h = parse_evidence(FILES["equivocation-same-size"])
    assert isinstance(h, EquivocationFile)
    cross = EquivocationFile(h.witness, h.second, h.first, h.evidence).to_bytes()
    with pytest.raises(NotProofError, match="is not checkpoint 1"):
        verify_evidence(cross, LOG_VERIFIERS, WITNESSES)


def test_consistent_pairs_are_not_proof() -> None:
    tree = A
    same = parse_evidence(FILES["same-size"])
    assert isinstance(same, SameSizeFile)
    twice = SameSizeFile(same.first, same.first).to_bytes()
    with pytest.raises(NotProofError, match="they agree"):
        verify_evidence(twice, LOG_VERIFIERS)
    # A consistent pair with a valid proof, in the inconsistent-sizes format.
    one_branch = InconsistentSizesFile(
        embedded(checkpoint(tree, 10)),
        embedded(checkpoint(tree, 15)),
        None,
        tuple(tree.consistency_proof(10, 15)),
    ).to_bytes()
    with pytest.raises(NotProofError, match="the checkpoints are consistent"):
        verify_evidence(one_branch, LOG_VERIFIERS)
    with pytest.raises(NotProofError, match="consistent"):
        build_inconsistent_sizes(
            checkpoint(tree, 10),
            checkpoint(tree, 15),
            tree.consistency_proof(10, 15),
            LOG_VERIFIERS,
        )
    # Power of two: the true prefix root of the larger tree equals the signed one.
    pow2 = InconsistentSizesFile(
        embedded(checkpoint(tree, 8)),
        embedded(checkpoint(tree, 15)),
        tree.root(8),
        tuple(tree.consistency_proof(8, 15)),
    ).to_bytes()
    with pytest.raises(NotProofError, match="the checkpoints are consistent"):
        verify_evidence(pow2, LOG_VERIFIERS)
    # Sizes within the shared prefix of the two branches are consistent across them.
    with pytest.raises(NotProofError):
        build_inconsistent_sizes(
            checkpoint(A, 3), checkpoint(B, 15), B.consistency_proof(3, 15), LOG_VERIFIERS
        )
    with pytest.raises(NotProofError, match="they agree"):
        build_same_size(checkpoint(A, 5), checkpoint(B, 5), LOG_VERIFIERS)


def embedded(note: bytes) -> Embedded:
    return Embedded.parse(note, "test")


def test_proofs_that_prove_nothing() -> None:
    g = parse_evidence(FILES["inconsistent-sizes"])
    assert isinstance(g, InconsistentSizesFile)
    garbage = tuple(bytes([i]) * 32 for i in range(len(g.proof)))
    data = InconsistentSizesFile(g.smaller, g.larger, None, garbage).to_bytes()
    with pytest.raises(NotProofError, match="does not reproduce the larger root"):
        verify_evidence(data, LOG_VERIFIERS)
    short = InconsistentSizesFile(g.smaller, g.larger, None, g.proof[:-1]).to_bytes()
    with pytest.raises(MalformedEvidenceError, match="hashes, want"):
        verify_evidence(short, LOG_VERIFIERS)
    # Power of two with the proof alone: the builder refuses, and says what is missing.
    with pytest.raises(NotProofError, match="power of two"):
        build_inconsistent_sizes(
            checkpoint(A, 8), checkpoint(B, 15), B.consistency_proof(8, 15), LOG_VERIFIERS
        )
    # A prefix-root line where the size is not a power of two is not the format.
    extra = InconsistentSizesFile(g.smaller, g.larger, bytes(32), g.proof).to_bytes()
    with pytest.raises(MalformedEvidenceError, match="prefix-root"):
        verify_evidence(extra, LOG_VERIFIERS)


def test_different_origins_are_not_proof() -> None:
    pair = [embedded(checkpoint(A, 10)), embedded(checkpoint(B, 10, OTHER_LOG))]
    first, second = sorted(pair, key=lambda e: e.checkpoint.root)
    data = SameSizeFile(first, second).to_bytes()
    with pytest.raises(NotProofError, match="different origins"):
        verify_evidence(data, [LOG.verifier(), OTHER_LOG.verifier()])


def test_empty_trees_prove_nothing() -> None:
    empty = MemoryTree()
    zero = checkpoint(empty, 0)
    g = parse_evidence(FILES["inconsistent-sizes"])
    assert isinstance(g, InconsistentSizesFile)
    data = InconsistentSizesFile(embedded(zero), g.larger, None, ()).to_bytes()
    with pytest.raises(NotProofError, match="size 0 proves nothing"):
        verify_evidence(data, LOG_VERIFIERS)


def test_size_limit() -> None:
    with pytest.raises(MalformedEvidenceError, match="over"):
        parse_evidence(FILES["same-size"] + b"x" * MAX_EVIDENCE_BYTES)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "line 1"),
        (b"witnessnet-evidence/v2\nkind same-size-different-roots\n", "want"),
        (HEADER.encode() + b"\nkind other\n", "unknown kind"),
        (HEADER.encode() + b"\nkind suspicion\nreporter a\ntime 01\n", "leading zeros"),
        (HEADER.encode() + b"\nkind same-size-different-roots\ncheckpoint 99\nx", "past the end"),
        (HEADER.encode() + b"\r\nkind same-size-different-roots\n", "control character"),
        (FILES["same-size"] + b"\n", "unexpected data"),
    ],
)
def test_malformed(data: bytes, match: str) -> None:
    with pytest.raises(MalformedEvidenceError, match=match):
        parse_evidence(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_arbitrary_bytes_raise_only_typed_errors(data: bytes) -> None:
    for prefix in (b"", HEADER.encode() + b"\nkind same-size-different-roots\ncheckpoint "):
        with pytest.raises(MalformedEvidenceError):
            parse_evidence(prefix + data)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(FILES)),
    st.data(),
)
def test_random_splices_are_rejected(name: str, draw: st.DataObject) -> None:
    data = FILES[name]
    start = draw.draw(st.integers(0, len(data) - 1))
    end = draw.draw(st.integers(start, min(len(data), start + 16)))
    insert = draw.draw(st.binary(max_size=16))
    bad = data[:start] + insert + data[end:]
    if bad == data:
        return
    with pytest.raises(EvidenceError):
        verify_evidence(bad, LOG_VERIFIERS, WITNESSES)


def test_docs_example_verifies() -> None:
    """The example in docs/evidence-format.md is a real file that verifies with its vkey."""
    doc = DOCS.read_text(encoding="utf-8")
    vkey = re.search(r"--log-vkey (\S+\+\S+)", doc)
    example = re.search(r"```evidence\n(.*?)```", doc, re.S)
    assert vkey and example
    data = example[1].encode()
    assert data == inconsistent(6, 13)
    v = verify_evidence(data, [parse_vkey(vkey[1])])
    assert v.kind is Kind.INCONSISTENT_SIZES
    assert base64.b64encode(v.prefix_root or b"").decode() in doc
