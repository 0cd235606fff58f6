"""The real CCF ledgers verify end to end; any flipped byte is caught and its seqno named."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.tlog.ccf.vectors import (
    LEDGERS,
    chunk_files,
    expected_roots,
    readme,
    readme_consistency_proof,
    root_matches,
    signature_counts,
)
from tlog.ccf.chunk import parse_chunk
from tlog.ccf.errors import CcfError, LedgerVerificationError, MalformedLedgerError
from tlog.ccf.files import verify_ledger
from tlog.ccf.verify import verify_chunks
from tlog.merkle import CCF, verify_consistency

REPORTS = {name: verify_chunks(chunk_files(name)) for name in LEDGERS}


@pytest.mark.parametrize("ledger", list(LEDGERS))
def test_ledger_verifies_and_reproduces_every_expected_root(ledger: str) -> None:
    report = REPORTS[ledger]
    assert report.ok, report.problem
    got = {s.seqno: s.root for s in report.signed_roots}
    want = expected_roots(ledger)
    assert want, "README lists no roots"
    for seqno, root in want.items():
        assert root_matches(root, got[seqno]), (seqno, got[seqno].hex())
    assert len(report.signed_roots) == signature_counts(ledger)
    for s in report.signed_roots:
        assert s.size == s.seqno
        assert report.tree.root(s.size) == s.root
    assert report.covered_seqno == report.signed_roots[-1].seqno - 1


def test_sgx_signature_seqnos_are_those_listed() -> None:
    listed = re.search(r"signatures \(([^)]*)\)", readme("sgx-service"))
    assert listed is not None
    want = [int(x.split(".")[1]) for x in listed[1].split(", ")]
    assert [s.seqno for s in REPORTS["sgx-service"].signed_roots] == want


def test_cose_signatures_checked_where_present() -> None:
    canary = REPORTS["cts-canary"].signed_roots
    assert all(s.cose is not None and s.node_signature for s in canary)
    assert all(s.cose.issuer == "cts-canary.confidential-ledger.azure.com" for s in canary)
    kid = re.search(r"kid = sha256\(SPKI DER\) = ([0-9a-f]{64})", readme("cts-canary"))
    assert kid is not None
    assert {s.cose.kid for s in canary} == {kid[1].encode()}
    for old in ("sgx-service", "expired-service"):
        assert all(s.cose is None and s.node_signature for s in REPORTS[old].signed_roots)


def test_verify_ledger_reads_directories_and_files() -> None:
    assert verify_ledger([LEDGERS["expired-service"]]).ok
    files = sorted(LEDGERS["expired-service"].glob("*.committed"))
    report = verify_ledger(files)
    assert report.ok and report.transactions == 26 and len(report.files) == 3


def test_missing_or_gapped_chunks_are_refused() -> None:
    files = chunk_files("expired-service")
    by_first = sorted(files, key=lambda f: parse_chunk(f[1], f[0]).first)
    with pytest.raises(MalformedLedgerError, match=r"ledger_16-26\.committed.*follow seqno 4"):
        verify_chunks([by_first[0], by_first[2]])
    with pytest.raises(MalformedLedgerError, match=r"ledger_5-15\.committed.*must start"):
        verify_chunks(by_first[1:])
    with pytest.raises(MalformedLedgerError, match="no committed ledger chunks"):
        verify_chunks([])


@pytest.mark.parametrize("ledger", list(LEDGERS))
def test_consistency_proofs_between_all_pairs_of_signed_roots(ledger: str) -> None:
    report = REPORTS[ledger]
    heads = report.signed_roots
    assert len(heads) >= 2
    for old, new in itertools.combinations(heads, 2):
        proof = report.tree.consistency_proof(old.size, new.size)
        verify_consistency(old.size, new.size, old.root, new.root, proof, CCF)


def test_constructed_proof_in_readme_is_reproduced() -> None:
    tree = REPORTS["expired-service"].tree
    assert tree.consistency_proof(15, 26) == readme_consistency_proof("expired-service")


def _flip(files: list[tuple[str, bytes]], index: int, pos: int, bit: int) -> list:
    name, data = files[index]
    changed = bytearray(data)
    changed[pos] ^= bit
    return [*files[:index], (name, bytes(changed)), *files[index + 1 :]]


def _problem(files: list[tuple[str, bytes]]) -> CcfError | None:
    try:
        return verify_chunks(files).problem
    except CcfError as e:
        return e


def _covered(ledger: str) -> list[tuple[int, int, object]]:
    """(file index, seqno, raw tx) for every transaction a signature covers."""
    files = chunk_files(ledger)
    last = REPORTS[ledger].covered_seqno
    out = []
    for i, (name, data) in enumerate(files):
        chunk = parse_chunk(data, name)
        for j, rt in enumerate(chunk.transactions):
            if chunk.first + j <= last:
                out.append((i, chunk.first + j, rt))
    return out


@pytest.mark.parametrize("ledger", list(LEDGERS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_flipped_byte_in_any_covered_transaction_is_named(
    ledger: str, data: st.DataObject
) -> None:
    covered = _covered(ledger)
    index, seqno, rt = data.draw(st.sampled_from(covered))
    pos = rt.offset + data.draw(st.integers(0, len(rt.raw) - 1))
    bit = 1 << data.draw(st.integers(0, 7))
    problem = _problem(_flip(chunk_files(ledger), index, pos, bit))
    assert isinstance(problem, CcfError)
    assert problem.seqno == seqno, problem
    assert f"seqno {seqno}" in str(problem)


def test_every_transaction_of_one_ledger_flipped() -> None:
    # One flip per covered transaction, at its middle byte: every one is named.
    files = chunk_files("cts-canary")
    for index, seqno, rt in _covered("cts-canary"):
        problem = _problem(_flip(files, index, rt.offset + len(rt.raw) // 2, 0x10))
        assert problem is not None and problem.seqno == seqno, (seqno, problem)


@pytest.mark.parametrize("ledger", list(LEDGERS))
def test_last_signature_tampered_in_its_signed_fields(ledger: str) -> None:
    files = chunk_files(ledger)
    last = REPORTS[ledger].signed_roots[-1]
    index = next(i for i, f in enumerate(files) if f[0] == last.file)
    name, data = files[index]
    # The signed root's hex digits: change one, in the signature row.
    at = data.index(b'"root":"' + last.root.hex().encode()) + 8
    changed = bytearray(data)
    changed[at] = ord("0") if changed[at] != ord("0") else ord("1")
    problem = _problem([*files[:index], (name, bytes(changed)), *files[index + 1 :]])
    assert isinstance(problem, LedgerVerificationError)
    assert problem.seqno == last.seqno


def test_problem_keeps_roots_verified_before_it() -> None:
    files = chunk_files("cts-canary")
    index, seqno, rt = _covered("cts-canary")[9]
    report = verify_chunks(_flip(files, index, rt.offset + 100, 1))
    assert report.problem is not None and report.problem.seqno == seqno
    assert [s.seqno for s in report.signed_roots] == [2, 5, 7, 9]
    with pytest.raises(CcfError):
        report.raise_for_problem()
