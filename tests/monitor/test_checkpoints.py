"""Choosing the checkpoint to audit against: log key, origin, policy quorum, conflicts."""

from __future__ import annotations

from monitor.checkpoints import Selection, select_checkpoint
from tests.monitor.helpers import LOG_KEY, ORIGIN, signer
from tests.vectors import load
from tlog.checkpoint import Checkpoint
from tlog.cosignature import CosignatureV1Signer
from tlog.keys import parse_vkey
from tlog.note import sign_note
from tlog.policy import Policy, parse_policy

W1, W2, W3 = (
    CosignatureV1Signer(signer(f"w{i}.example"), clock=lambda: 1700000000) for i in (1, 2, 3)
)
POLICY = parse_policy(
    f"log {LOG_KEY.vkey()}\n"
    + "".join(f"witness w{i} {w.vkey()}\n" for i, w in enumerate((W1, W2, W3), start=1))
    + "group quorum 2 w1 w2 w3\nquorum quorum\n"
)


def checkpoint(size: int, root: bytes = b"\x01" * 32, *cosigners: CosignatureV1Signer) -> bytes:
    logged = sign_note(Checkpoint(ORIGIN, size, root).body(), [LOG_KEY])
    return sign_note(logged.text, list(cosigners), keep=logged.signatures).to_bytes()


def select(sources: list[bytes], policy: Policy | None = None) -> Selection:
    named = [(f"source{i}", s) for i, s in enumerate(sources)]
    return select_checkpoint(named, LOG_KEY.verifier(), ORIGIN, policy)


def test_real_sumdb_checkpoints_origin_differs_from_key_name() -> None:
    v = load("sumdb-checkpoints.txt")
    key = parse_vkey(v.line("vkey"))
    sources = [(name, v[name]) for name in ("cp-6476701", "cp-35225469", "cp-30055305")]
    chosen = select_checkpoint(sources, key, "go.sum database tree", None).chosen
    assert chosen is not None and chosen.checkpoint.size == 35225469
    wrong_origin = select_checkpoint(sources, key, "sum.golang.org", None)
    assert wrong_origin.chosen is None and len(wrong_origin.passed_over) == 3


def test_newest_log_signed_without_policy() -> None:
    other = sign_note(Checkpoint(ORIGIN, 50, bytes(32)).body(), [signer("other")]).to_bytes()
    s = select([checkpoint(5), checkpoint(7), other, b"garbage"])
    assert s.chosen is not None and s.chosen.checkpoint.size == 7
    assert len(s.passed_over) == 2  # another key's checkpoint, and garbage


def test_cosignatures_from_several_sources_add_up() -> None:
    only_w1 = checkpoint(10, b"\x01" * 32, W1)
    only_w2 = checkpoint(10, b"\x01" * 32, W2)
    newer_w3 = checkpoint(12, b"\x01" * 32, W3)
    s = select([only_w1, newer_w3, only_w2], POLICY)
    assert s.chosen is not None
    assert (s.chosen.checkpoint.size, s.chosen.cosigners) == (10, frozenset({"w1", "w2"}))
    assert "checkpoint of size 12" in s.passed_over[0]
    assert select([only_w1, newer_w3], POLICY).chosen is None


def test_same_size_different_roots_is_a_conflict() -> None:
    s = select([checkpoint(10, b"\x01" * 32), checkpoint(10, b"\x02" * 32)])
    assert len(s.conflicts) == 1
