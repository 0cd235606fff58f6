"""Gossip catches a forked CCF service exactly as it catches a forked tiled log.

Two synthetic CCF ledgers of one service (tests/tlog/ccf/synth.py) share a prefix and then
diverge; their COSE-signed roots become checkpoint notes (tlog.ccf.heads) verified only
with the service's vkey (type 0xff ccf-cose-root). The gossip decisions (gossip.reconcile)
must advance on the honest history and produce offline-verifiable evidence on the fork.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from gossip.evidence import Kind, verify_evidence
from gossip.messages import Proof, origin_hash
from gossip.proofs import LedgerProofs
from gossip.reconcile import Advance, Conflict, LogView, NeedProof, check_proof, classify
from tests.monitor.helpers import static_server
from tests.tlog.ccf.synth import LedgerWriter, Service
from tlog.ccf.heads import checkpoint_note, service_verifier
from tlog.ccf.source import INDEX
from tlog.ccf.verify import verify_chunks
from tlog.checkpoint import parse_checkpoint
from tlog.keys import parse_vkey, tree_hash_rule
from tlog.merkle import CCF
from tlog.note import Verifier, parse_note
from witness.registry import Registry, TrustedLog

ORIGIN = "forked.ccf.example"
SERVICE = Service(ORIGIN)
VKEY = service_verifier(ORIGIN, SERVICE.service_cert).vkey()
LOG_VERIFIERS = [parse_vkey(VKEY)]


def trusted(origin: str) -> Sequence[Verifier] | None:
    return LOG_VERIFIERS if origin == ORIGIN else None


def _grow(w: LedgerWriter, tag: bytes, count: int) -> None:
    for i in range(count):
        w.write(tag + str(i).encode(), b"value")
    w.sign()


def _forked() -> tuple[LedgerWriter, LedgerWriter]:
    common = LedgerWriter(SERVICE)
    _grow(common, b"common", 4)  # signature at seqno 6
    a, b = common.copy(), common.copy()
    _grow(a, b"honest", 4)  # signature at 11
    _grow(b, b"fork", 4)  # signature at 11, another root
    _grow(a, b"honest", 8)  # signature at 20
    _grow(b, b"fork", 8)
    return a, b


A, B = _forked()


def _notes(w: LedgerWriter) -> dict[int, bytes]:
    report = verify_chunks(w.chunks())
    assert report.ok, report.problem
    verifier = LOG_VERIFIERS[0]
    return {r.size: checkpoint_note(ORIGIN, r, verifier).to_bytes() for r in report.signed_roots}


NOTES_A, NOTES_B = _notes(A), _notes(B)


def view_of(note: bytes) -> dict[str, LogView]:
    cp = parse_checkpoint(parse_note(note).text)
    return {ORIGIN: LogView(ORIGIN, cp.size, cp.root, note)}


def test_both_histories_verify_and_share_the_prefix() -> None:
    assert sorted(NOTES_A) == sorted(NOTES_B) == [6, 11, 20]
    assert NOTES_A[6] == NOTES_B[6]
    assert NOTES_A[11] != NOTES_B[11]
    assert tree_hash_rule(LOG_VERIFIERS) is CCF


def test_same_size_fork_is_caught_with_offline_evidence() -> None:
    outcome = classify(NOTES_B[11], view_of(NOTES_A[11]), trusted, [])
    assert isinstance(outcome, Conflict)
    # Anyone holding only the service vkey verifies the evidence.
    v = verify_evidence(outcome.evidence, [parse_vkey(VKEY)])
    assert v.kind is Kind.SAME_SIZE and v.first.size == 11


def test_honest_growth_advances_with_a_ccf_proof() -> None:
    proof = Proof(origin_hash(ORIGIN), 11, 20, tuple(A.tree.consistency_proof(11, 20)))
    outcome = classify(NOTES_A[20], view_of(NOTES_A[11]), trusted, [], [proof])
    assert isinstance(outcome, Advance), outcome


def test_inconsistent_sizes_fork_is_caught_with_offline_evidence() -> None:
    # A peer on the forked history offers its size-20 head with a proof from its own tree.
    proof = Proof(origin_hash(ORIGIN), 11, 20, tuple(B.tree.consistency_proof(11, 20)))
    outcome = classify(NOTES_B[20], view_of(NOTES_A[11]), trusted, [], [proof])
    assert isinstance(outcome, Conflict), outcome
    v = verify_evidence(outcome.evidence, [parse_vkey(VKEY)])
    assert v.kind is Kind.INCONSISTENT_SIZES
    assert (v.first.size, v.second.size) == (11, 20)


def test_a_proof_under_the_wrong_hash_rule_proves_nothing() -> None:
    from tlog.merkle import RFC6962, MemoryTree

    rfc = MemoryTree((B.tree.node_hash(0, i) for i in range(20)), RFC6962)
    proof = Proof(origin_hash(ORIGIN), 11, 20, tuple(rfc.consistency_proof(11, 20)))
    outcome = classify(NOTES_B[20], view_of(NOTES_A[11]), trusted, [], [proof])
    assert isinstance(outcome, NeedProof)


@pytest.mark.parametrize("size", [6, 11, 20])
def test_notes_verify_with_the_vkey_alone(size: int) -> None:
    from tlog.checkpoint import open_checkpoint

    for notes in (NOTES_A, NOTES_B):
        assert open_checkpoint(notes[size], [parse_vkey(VKEY)]).checkpoint.size == size


def _forked_at_eight() -> tuple[LedgerWriter, LedgerWriter]:
    """Two histories that differ inside the first 8 leaves, both signed at size 8 and 20."""
    common = LedgerWriter(SERVICE)
    _grow(common, b"common", 1)  # signature at seqno 3
    a, b = common.copy(), common.copy()
    _grow(a, b"honest", 4)  # signature at 8: a power of two
    _grow(b, b"fork", 4)
    _grow(a, b"honest", 11)  # signature at 20
    _grow(b, b"fork", 11)
    return a, b


async def test_power_of_two_fork_needs_the_prefix_root_the_ccf_source_gives(
    tmp_path: Path,
) -> None:
    """From size 8 (a power of two) a failed proof proves nothing without the root of the
    larger tree's first 8 leaves; gossip gets it from CcfLedgerSource.tree_root."""
    a, b = _forked_at_eight()
    notes_a, notes_b = _notes(a), _notes(b)
    assert sorted(notes_a) == sorted(notes_b) == [3, 8, 20]
    mine = view_of(notes_b[8])[ORIGIN]  # this witness saw the fork's size-8 head
    registry = Registry()
    async with published(tmp_path / "a", a) as url, httpx.AsyncClient(timeout=10) as http:
        registry.put(TrustedLog(ORIGIN, (VKEY,), "config", url=url, kind="ccf"))
        proofs = LedgerProofs(registry, http, timeout=10)
        proof = await proofs.consistency(ORIGIN, 8, 20)
        assert proof is not None
        without = check_proof(mine, notes_a[20], proof, LOG_VERIFIERS, [])
        assert isinstance(without, NeedProof) and without.prefix_root_needed
        prefix = await proofs.prefix_root(ORIGIN, 8, 20)
        assert prefix == a.tree.root(8) != b.tree.root(8)
        outcome = check_proof(mine, notes_a[20], proof, LOG_VERIFIERS, [], prefix)
    assert isinstance(outcome, Conflict), outcome
    v = verify_evidence(outcome.evidence, [parse_vkey(VKEY)])
    assert v.kind is Kind.INCONSISTENT_SIZES
    assert (v.first.size, v.second.size, v.prefix_root) == (8, 20, a.tree.root(8))


@asynccontextmanager
async def published(directory: Path, writer: LedgerWriter) -> AsyncIterator[str]:
    directory.mkdir()
    chunks = writer.chunks()
    for name, data in chunks:
        (directory / name).write_bytes(data)
    (directory / INDEX).write_text("".join(f"{n}\n" for n, _ in chunks))
    async with static_server(directory) as url:
        yield url
