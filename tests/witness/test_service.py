"""The witness code path in-process: real SQLite store, concurrent submissions, trust."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

from tests.witness.helpers import ToyLog
from tlog.checkpoint import open_checkpoint
from tlog.cosignature import CosignatureV1Signer
from tlog.keys import Ed25519Signer
from tlog.merkle import verify_consistency
from tlog.note import Signature, parse_note, verify_note
from witness import store as store_module
from witness.config import parse_config
from witness.daemon import trust_configured_logs
from witness.decide import AddCheckpointRequest, Reason, Reject
from witness.errors import StoreError
from witness.registry import CONFIG_SOURCE, Registry, TrustedLog, restore_list_logs
from witness.service import Cosigned, Witness
from witness.store import Store

SIGNER = CosignatureV1Signer(Ed25519Signer("example.com/witness", bytes(range(32))))
LOGS = [ToyLog(f"example.com/service{i}", 64) for i in range(4)]


def config_log(log: ToyLog, qpd: int | None = None) -> TrustedLog:
    return TrustedLog(log.origin, (log.vkey,), CONFIG_SOURCE, qpd)


@asynccontextmanager
async def running(
    path: Path, logs: list[TrustedLog], *, create: bool = True
) -> AsyncIterator[Witness]:
    store = Store.open(path, create=create)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(store.run)
            witness = Witness(SIGNER, store, Registry())
            await witness.trust(logs, authoritative=True)
            restore_list_logs(witness.registry, store.registered())
            yield witness
            nursery.cancel_scope.cancel()
    finally:
        store.close()


def cosigned(outcome: Cosigned | Reject) -> Cosigned:
    assert isinstance(outcome, Cosigned), outcome
    return outcome


async def test_same_old_size_only_one_wins(tmp_path: Path) -> None:
    log = LOGS[0]
    async with running(tmp_path / "w.db", [config_log(log)]) as witness:
        cosigned(await witness.submit(log.request(0, 3)))
        outcomes: dict[int, Cosigned | Reject] = {}

        async def send(size: int) -> None:
            outcomes[size] = await witness.submit(log.request(3, size))

        async with trio.open_nursery() as nursery:
            for size in range(4, 20):
                nursery.start_soon(send, size)
        winners = [s for s, o in outcomes.items() if isinstance(o, Cosigned)]
        assert len(winners) == 1
        losers = [o for o in outcomes.values() if isinstance(o, Reject)]
        assert {(r.reason, r.size) for r in losers} == {(Reason.CONFLICT, winners[0])}
        assert witness.store.latest(log.origin).size == winners[0]  # type: ignore[union-attr]


async def test_same_checkpoint_twice_concurrently(tmp_path: Path) -> None:
    """Both carry the same checkpoint: the first advances, the second is a 409 or a re-cosign."""
    log = LOGS[0]
    async with running(tmp_path / "w.db", [config_log(log)]) as witness:
        results = []

        async def send() -> None:
            results.append(await witness.submit(log.request(0, 10)))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(send)
            nursery.start_soon(send)
        advanced = [r for r in results if isinstance(r, Cosigned) and r.advanced]
        assert len(advanced) == 1
        # Re-submitting what is stored (old == size == stored) is cosigned again.
        again = cosigned(await witness.submit(log.request(10, 10)))
        assert not again.advanced


async def test_group_commit_batches_many_logs(tmp_path: Path) -> None:
    logs = [ToyLog(f"example.com/batch{i}", 8) for i in range(64)]
    async with running(tmp_path / "w.db", [config_log(log) for log in logs]) as witness:
        commits = witness.store.commits

        async def advance(log: ToyLog) -> None:
            for size in range(1, 9):
                cosigned(await witness.submit(log.request(size - 1, size)))

        async with trio.open_nursery() as nursery:
            for log in logs:
                nursery.start_soon(advance, log)
        made = witness.store.commits - commits
        assert witness.store.committed_ops - made >= 0
        assert made < len(logs) * 8 / 4, f"{made} commits for {len(logs) * 8} advances"


async def test_restart_keeps_state_and_evidence(tmp_path: Path) -> None:
    log = LOGS[1]
    path = tmp_path / "w.db"
    async with running(path, [config_log(log)]) as witness:
        for old, size in ((0, 5), (5, 9), (9, 9), (9, 30)):
            cosigned(await witness.submit(log.request(old, size)))
    async with running(path, [config_log(log)], create=False) as witness:
        state = witness.store.latest(log.origin)
        assert state is not None
        assert (state.size, state.root) == (30, log.root(30))
        assert state.checkpoint == log.checkpoint(30)
        history = await witness.store.history(log.origin)
        assert [(a.old_size, a.new_size) for a in history] == [(0, 5), (5, 9), (9, 30)]
        verifier = TrustedLog(log.origin, (log.vkey,), CONFIG_SOURCE).verifiers
        previous = None
        for a in history:
            cp = open_checkpoint(a.checkpoint, verifier).checkpoint
            if previous is not None:
                verify_consistency(previous.size, cp.size, previous.root, cp.root, a.proof)
            previous = cp
        outcome = await witness.submit(log.request(5, 31))
        assert isinstance(outcome, Reject) and (outcome.reason, outcome.size) == (
            Reason.CONFLICT,
            30,
        )


async def test_cosignatures_verify_and_read_path(tmp_path: Path) -> None:
    log = LOGS[2]
    async with running(tmp_path / "w.db", [config_log(log)]) as witness:
        assert witness.cosigned_checkpoint(log.origin) is None
        out = cosigned(await witness.submit(log.request(0, 7)))
        note = parse_note(log.checkpoint(7) + out.lines)
        assert verify_note(note, [SIGNER.verifier()]) == [SIGNER.verifier()]
        # The read path drops signatures other than the log's and adds a fresh cosignature.
        other = CosignatureV1Signer(Ed25519Signer("example.com/other", bytes(32)))
        extra = Signature(other.name, other.key_id, other.sign(note.text.encode()))
        resubmitted = log.checkpoint(7) + extra.line().encode()
        cosigned(await witness.submit(AddCheckpointRequest(7, (), resubmitted)))
        served = parse_note(witness.cosigned_checkpoint(log.origin) or b"")
        assert [s.name for s in served.signatures] == [log.origin, SIGNER.name]
        verify_note(served, [SIGNER.verifier()])


async def test_rate_limit_applies_to_logs_not_feeders(tmp_path: Path) -> None:
    log = LOGS[3]
    async with running(tmp_path / "w.db", [config_log(log, qpd=24)]) as witness:
        cosigned(await witness.submit(log.request(0, 1)))
        cosigned(await witness.submit(log.request(1, 2)))
        limited = await witness.submit(log.request(2, 3))
        assert isinstance(limited, Reject) and limited.reason == Reason.RATE_LIMITED
        assert limited.retry_after is not None and 3000 < limited.retry_after <= 3600
        cosigned(await witness.submit(log.request(2, 3), rate_limit=False))
        assert witness.store.latest(log.origin).size == 3  # type: ignore[union-attr]


async def test_log_lists_are_add_only(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    a, b = LOGS[0], LOGS[1]
    path = tmp_path / "w.db"
    listed = TrustedLog(b.origin, (b.vkey,), "list.txt", 100)
    async with running(path, [config_log(a)]) as witness:
        assert await witness.trust([listed], authoritative=False) == [listed]
        cosigned(await witness.submit(b.request(0, 4)))
        # A list re-keying a known log (config or list) changes nothing, with a warning.
        rekey = [
            TrustedLog(a.origin, (b.vkey,), "list.txt", 1),
            TrustedLog(b.origin, (a.vkey,), "list.txt", 1),
        ]
        with caplog.at_level(logging.WARNING):
            assert await witness.trust(rekey, authoritative=False) == []
        assert sum("re-keys a known log" in r.message for r in caplog.records) == 2
        assert witness.registry.get(b.origin) == listed
    # The list no longer mentions b: it is still trusted after a restart, state intact.
    async with running(path, [config_log(a)], create=False) as witness:
        assert witness.registry.get(b.origin) == listed
        cosigned(await witness.submit(b.request(4, 6)))
        # The operator re-keys in the config: that is authoritative.
        rekeyed = TrustedLog(a.origin, (b.vkey,), CONFIG_SOURCE)
        assert await witness.trust([rekeyed], authoritative=True) == [rekeyed]
        assert witness.registry.get(a.origin) == rekeyed


async def test_write_failure_stops_the_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed commit (simulated: an I/O error cannot be caused on demand) fails the
    waiting requests and stops the writer, so the process restarts from disk."""
    log = LOGS[0]
    store = Store.open(tmp_path / "w.db", create=True)
    witness = Witness(SIGNER, store, Registry())
    results: list[BaseException] = []

    def broken(*args: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    async def submit() -> None:
        try:
            await witness.submit(log.request(0, 3))
        except StoreError as e:
            results.append(e)

    with pytest.raises(BaseExceptionGroup) as group:
        async with trio.open_nursery() as nursery:
            await nursery.start(store.run)
            await witness.trust([config_log(log)], authoritative=True)
            monkeypatch.setattr(store, "_write", broken)
            nursery.start_soon(submit)
    store.close()
    assert group.group_contains(StoreError, match="disk I/O error")
    assert len(results) == 1 and "disk I/O error" in str(results[0])
    assert store.latest(log.origin).size == 0  # type: ignore[union-attr]


async def test_startup_trusts_config_then_list_files(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = LOGS[0], LOGS[1]
    listed = tmp_path / "list.txt"
    listed.write_text(
        f"logs/v0\nvkey {b.vkey}\nqpd 10\ncontact x\n"
        f"vkey {b.vkey}\norigin {a.origin}\nqpd 10\ncontact re-keys a config log\n"
    )
    config = parse_config(
        f'name = "example.com/witness"\nkey_file = "k"\ndatabase = "w.db"\n'
        f'listen = "127.0.0.1:0"\nlog_lists = ["list.txt"]\n'
        f'[[logs]]\norigin = "{a.origin}"\nvkeys = ["{a.vkey}"]\n',
        tmp_path / "witness.toml",
    )
    async with running(tmp_path / "w.db", []) as witness:
        with caplog.at_level(logging.WARNING):
            await trust_configured_logs(witness, config)
        assert witness.registry.get(a.origin) == config_log(a)
        assert witness.registry.get(b.origin) == TrustedLog(b.origin, (b.vkey,), str(listed), 10)
        assert any("re-keys a known log" in r.message for r in caplog.records)
        cosigned(await witness.submit(b.request(0, 2)))


async def test_rejected_checkpoints_are_kept_as_evidence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = ToyLog("example.com/evidence", 64, fork_at=5)
    monkeypatch.setattr(store_module, "MAX_REJECTED", 3)
    async with running(tmp_path / "w.db", [config_log(log)]) as witness:
        # Nothing cosigned yet: nothing a bad request could contradict.
        bad = AddCheckpointRequest(0, (bytes(32),), log.checkpoint(4))
        assert isinstance(await witness.submit(bad), Reject)
        cosigned(await witness.submit(log.request(0, 10)))
        outcomes = [
            await witness.submit(log.request(10, 10, forked=True)),  # same size, other root
            await witness.submit(log.request(10, 10, forked=True)),  # the same again: kept once
            *[await witness.submit(log.request(10, s, forked=True)) for s in range(11, 16)],
            await witness.submit(log.request(5, 12)),  # a stale old size is no evidence
        ]
        assert [o.reason for o in outcomes if isinstance(o, Reject)] == [
            Reason.FORK,
            Reason.FORK,
            *[Reason.BAD_PROOF] * 5,
            Reason.CONFLICT,
        ]
        # The writer commits in order: once this advance is durable, so are the rejections.
        cosigned(await witness.submit(log.request(10, 11)))
        kept = await witness.store.rejected(log.origin)
    assert [(r.reason, r.old_size, r.new_size) for r in kept] == [
        ("fork", 10, 10),
        ("bad_proof", 10, 11),
        ("bad_proof", 10, 12),
        ("bad_proof", 10, 13),
    ]
    for r in kept:
        assert r.cosigned == log.checkpoint(10)
        assert r.checkpoint == log.checkpoint(r.new_size, forked=True)
        assert r.proof == log.request(10, r.new_size, forked=True).proof


async def test_version_1_database_gains_the_rejected_table(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    Store.open(path, create=True).close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("DROP TABLE rejected")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
    conn.close()
    log = LOGS[0]
    async with running(path, [config_log(log)], create=False) as witness:
        cosigned(await witness.submit(log.request(0, 3)))
        assert await witness.store.rejected(log.origin) == []
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == ("2",)
    conn.close()
