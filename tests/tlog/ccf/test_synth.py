"""Synthetic CCF ledgers (keys held by the test): chunking, key checks, incremental replay."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.tlog.ccf.synth import LedgerWriter, Service
from tlog.ccf.errors import LedgerVerificationError
from tlog.ccf.verify import LedgerVerifier, verify_chunks


def _ledger(service: Service | None = None, cose: bool = True) -> LedgerWriter:
    w = LedgerWriter(service or Service(), cose=cose)
    for batch in (3, 5, 1, 9):
        for i in range(batch):
            w.write(b"key-%d" % i, b"value %d" % batch)
        w.sign()
    return w


LEDGER = _ledger()
ROOTS = [(s.seqno, s.root) for s in verify_chunks(LEDGER.chunks()).signed_roots]


def test_synthetic_ledger_verifies_like_a_real_one() -> None:
    report = verify_chunks(LEDGER.chunks())
    assert report.ok and [s for s, _ in ROOTS] == [5, 11, 13, 23]
    assert all(s.cose is not None for s in report.signed_roots)
    assert all(root == LEDGER.tree.root(seqno) for seqno, root in ROOTS)


@settings(max_examples=25, deadline=None)
@given(st.sets(st.integers(1, 22), max_size=6))
def test_any_chunking_gives_the_same_roots(cuts: set[int]) -> None:
    chunks = LEDGER.chunks(*sorted(cuts))
    report = verify_chunks(chunks)
    assert report.ok and [(s.seqno, s.root) for s in report.signed_roots] == ROOTS
    incremental = LedgerVerifier()
    for name, data in chunks:
        incremental.add_chunk(name, data)
    assert [(s.seqno, s.root) for s in incremental.report.signed_roots] == ROOTS


@pytest.mark.parametrize("own_kid", [False, True])
def test_cose_signature_by_another_key_is_rejected_at_its_seqno(own_kid: bool) -> None:
    service = Service()
    w = _ledger(service)
    impostor = Service()
    service.service_key = impostor.service_key  # the next COSE root is signed by another key
    if own_kid:
        service.kid = impostor.kid
    w.sign()
    report = verify_chunks(w.chunks())
    assert isinstance(report.problem, LedgerVerificationError)
    assert report.problem.seqno == 24 and [s.seqno for s in report.signed_roots] == [5, 11, 13, 23]
    want = "is not the service key's" if own_kid else "COSE root signature by the service key"
    assert want in str(report.problem)


def test_node_certificate_not_from_the_service_is_rejected() -> None:
    service = Service()
    rogue = Service()  # its node certificate is issued by another service
    service.node_cert = rogue.node_cert
    service.node_key = rogue.node_key
    report = verify_chunks(_ledger(service).chunks())
    assert isinstance(report.problem, LedgerVerificationError)
    assert report.problem.seqno == 5 and "not issued by the service" in str(report.problem)


def test_ledger_without_signatures_is_not_valid_for_the_cli(tmp_path: Path) -> None:
    w = LedgerWriter(Service())
    w.write(b"k", b"v")
    for name, data in w.chunks():
        (tmp_path / name).write_bytes(data)
    assert verify_chunks(w.chunks()).ok and not verify_chunks(w.chunks()).signed_roots
    r = subprocess.run(
        [sys.executable, "-m", "witnessnet", "ccf", "verify-ledger", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1 and "no signature transaction" in r.stdout


@pytest.mark.parametrize("cose", [True, False])
def test_node_only_and_cose_ledgers(cose: bool) -> None:
    report = verify_chunks(_ledger(cose=cose).chunks())
    assert report.ok and all((s.cose is not None) == cose for s in report.signed_roots)
