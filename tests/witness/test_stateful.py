"""A stateful property test of one witness against an honest and an equivocating log.

The log signs two histories under one origin (they share a prefix, then fork).
Hypothesis drives a real witness (witness.service over a SQLite witness.store,
gossip.actions over a SQLite gossip.state) with sequences of:

- log appends on either history;
- add-checkpoint requests with checkpoints of either history and good, bad,
  empty, other-history or stale (wrong old size) proofs;
- restarts: both databases closed and reopened from their files;
- gossip from a peer: checkpoints of either history (cosigned by the peer or
  not, with or without a proof), evidence files (genuine, or with a byte
  changed), and the scan of the store's rejected checkpoints.

After every step it checks that the witness never cosigned two inconsistent
checkpoints (every pair of cosignatures it produced, checked with a Merkle
consistency proof), that its stored size never went down, that every log it
froze is backed by evidence that verifies offline and holds a real fork, that
held proof always means frozen, and that nothing is cosigned once frozen.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from gossip.actions import Actions
from gossip.errors import EvidenceError
from gossip.evidence import build_inconsistent_sizes, build_same_size, verify_evidence
from gossip.messages import Proof, origin_hash
from gossip.metrics import GossipMetrics
from gossip.state import GossipState
from gossip.views import Views
from tests.gossip import COSIGNERS, LOG, LOG_VERIFIERS, ORIGIN, WITNESSES, checkpoint, cosign
from tests.gossip.harness import FakeTiles, Sink
from tlog.checkpoint import Checkpoint, parse_checkpoint
from tlog.errors import ProofError
from tlog.merkle import RFC6962, MemoryTree, verify_consistency
from tlog.note import parse_note, verify_note
from witness.decide import Accept, AddCheckpointRequest, Reason, Reject
from witness.registry import Registry, TrustedLog
from witness.service import Cosigned, Witness
from witness.store import Store

TOTAL = 48
EXAMPLES = 270
STEPS = 50
MIN_STEPS = 10_000
T = TypeVar("T")


class Loop:
    """A trio event loop in a thread of its own, so that a synchronous state machine can
    drive async code while the store's writer and gossip's workers keep running."""

    def __init__(self) -> None:
        self._ready = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._thread_main, daemon=True)
        self._thread.start()
        if not self._ready.wait(20):
            raise RuntimeError("trio loop did not start")

    def _thread_main(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as e:
            self.error = e

    async def _main(self) -> None:
        self.token = trio.lowlevel.current_trio_token()
        self._stop = trio.Event()
        async with trio.open_nursery() as nursery:
            self.nursery = nursery
            self._ready.set()
            await self._stop.wait()
            nursery.cancel_scope.cancel()

    def run(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        if self.error is not None:
            raise RuntimeError("the trio loop died") from self.error
        return trio.from_thread.run(fn, *args, trio_token=self.token)

    def close(self) -> None:
        if self.error is None:
            trio.from_thread.run_sync(self._stop.set, trio_token=self.token)
        self._thread.join(20)
        if self.error is not None:
            raise RuntimeError("the trio loop died") from self.error

    async def background(self, fn: Callable[..., Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        """Start `fn(task_status=...)` as a task; return a function that stops it and waits."""
        scope, done = trio.CancelScope(), trio.Event()

        async def task(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            try:
                with scope:
                    await fn(task_status=task_status)
            finally:
                done.set()

        async def stop() -> None:
            scope.cancel()
            await done.wait()

        await self.nursery.start(task)
        return stop


class RecordingWitness(Witness):
    """A witness that keeps every cosignature it hands out, whichever path asked for it."""

    issued: list[tuple[bytes, bytes]]

    def _cosign(self, accept: Accept) -> Cosigned:
        cosigned = super()._cosign(accept)
        self.issued.append((accept.checkpoint.body().encode(), cosigned.lines))
        return cosigned


def trees(common: int) -> tuple[MemoryTree, MemoryTree]:
    shared = [RFC6962.leaf(b"common %d" % i) for i in range(common)]
    return (
        MemoryTree(shared + [RFC6962.leaf(b"honest %d" % i) for i in range(common, TOTAL)]),
        MemoryTree(shared + [RFC6962.leaf(b"forked %d" % i) for i in range(common, TOTAL)]),
    )


def _tmp_root() -> str | None:
    # The store fsyncs every commit; tmpfs keeps 10,000 steps fast without changing semantics.
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() else None


class WitnessMachine(RuleBasedStateMachine):
    # Across all examples: steps run, cosignatures issued, examples that ended frozen.
    steps = 0
    cosignatures = 0
    frozen = 0

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="witness-stateful-", dir=_tmp_root()))
        self.loop = Loop()
        self.trees: tuple[MemoryTree, MemoryTree] = trees(1)
        self.common = 1
        self.published = [1, 1]
        self.issued: list[tuple[bytes, bytes]] = []
        self.checked: list[tuple[Checkpoint, list[MemoryTree]]] = []
        self.checked_evidence: set[str] = set()
        self.max_size = 0
        self.fork_shown = False
        self.cosigned_when_frozen: int | None = None
        self.sink = Sink()
        self.tiles = FakeTiles(None)
        self.loop.run(self._open, True)

    # The system under test: opened, closed, reopened.

    async def _open(self, create: bool) -> None:
        self.store = Store.open(self.dir / "witness.db", create=create)
        self.stop_store = await self.loop.background(self.store.run)
        self.witness = RecordingWitness(COSIGNERS[0], self.store, Registry())
        self.witness.issued = self.issued
        await self.witness.trust([TrustedLog(ORIGIN, (LOG.vkey(),), "config")], authoritative=True)
        self.state = GossipState.open(self.dir / "gossip.db")
        self.witness.frozen = self.state.frozen
        metrics = GossipMetrics(self.witness.metrics.registry, self.state)
        views = Views(self.witness, self.state, WITNESSES)
        self.pushed: list[bytes] = []

        async def push(file: bytes) -> None:
            self.pushed.append(file)

        self.actions = Actions(
            self.witness,
            self.state,
            views,
            self.tiles,
            self.sink,
            metrics,
            WITNESSES,
            proof_attempts=2,
            push=push,
        )
        self.stop_actions = await self.loop.background(self.actions.run)

    async def _close(self) -> None:
        await self._settle()
        await self.stop_actions()
        await self.stop_store()
        self.state.close()
        self.store.close()

    async def _settle(self) -> None:
        with trio.fail_after(30):
            while self.actions.busy():
                await trio.sleep(0)
            await trio.testing.wait_all_tasks_blocked()

    def teardown(self) -> None:
        WitnessMachine.cosignatures += len(self.issued)
        WitnessMachine.frozen += ORIGIN in self.state.frozen
        try:
            if self.loop.error is None:
                self.loop.run(self._close)
        finally:
            self.loop.close()

    # Helpers.

    def stored(self) -> tuple[int, bytes | None]:
        s = self.store.latest(ORIGIN)
        return (0, None) if s is None else (s.size, s.root)

    def note(self, branch: int, size: int) -> bytes:
        if branch == 1 and size > self.common:
            self.fork_shown = True
        return checkpoint(self.trees[branch], size)

    def proof(self, kind: str, branch: int, old: int, size: int, flip: int) -> tuple[bytes, ...]:
        tree = self.trees[branch if kind != "other" else 1 - branch]
        good = tuple(tree.consistency_proof(old, size)) if 0 < old < size else ()
        if kind == "bad":
            if not good:
                return (hashlib.sha256(b"junk %d" % flip).digest(),)
            i = flip % len(good)
            h = bytearray(good[i])
            h[flip % 32] ^= 1 << (flip % 8)
            return (*good[:i], bytes(h), *good[i + 1 :])
        return () if kind == "empty" else good

    # Rules.

    @initialize(common=st.integers(1, 20), honest=st.integers(1, 20), forked=st.integers(1, 20))
    def setup(self, common: int, honest: int, forked: int) -> None:
        self.common = common
        self.trees = trees(common)
        self.tiles.tree = self.trees[0]
        self.published = [honest, forked]

    @rule(branch=st.sampled_from([0, 1]), n=st.integers(1, 8))
    def append(self, branch: int, n: int) -> None:
        WitnessMachine.steps += 1
        self.published[branch] = min(TOTAL, self.published[branch] + n)

    @rule(
        branch=st.sampled_from([0, 0, 1]),
        back=st.integers(0, 6),
        old=st.sampled_from(["stored", "stored", "zero", "stale", "same"]),
        kind=st.sampled_from(["good", "good", "bad", "empty", "other"]),
        flip=st.integers(0, 1 << 16),
    )
    def add_checkpoint(self, branch: int, back: int, old: str, kind: str, flip: int) -> None:
        WitnessMachine.steps += 1
        size = max(1, self.published[branch] - back)
        have, _ = self.stored()
        old_size = {"stored": have, "zero": 0, "same": size, "stale": max(0, have - 1 - back)}[old]
        old_size = min(old_size, size) if old != "stored" else old_size
        request = AddCheckpointRequest(
            old_size,
            self.proof(kind, branch, old_size, size, flip),
            self.note(branch, size),
        )
        before = len(self.issued)
        result = self.loop.run(self.witness.add_checkpoint, request.to_bytes())
        if isinstance(result, Cosigned):
            assert len(self.issued) == before + 1
            assert parse_checkpoint(parse_note(request.note).text) == result.checkpoint
        else:
            assert isinstance(result, Reject)
            if ORIGIN in self.state.frozen:
                assert result.reason in (Reason.FROZEN, Reason.MALFORMED, Reason.OLD_AFTER_NEW)

    @rule()
    def restart(self) -> None:
        WitnessMachine.steps += 1
        self.loop.run(self._close)
        self.loop.run(self._open, False)

    @rule(
        branch=st.sampled_from([0, 1]),
        back=st.integers(0, 6),
        peer_cosigned=st.booleans(),
        with_proof=st.booleans(),
    )
    def gossip_checkpoint(
        self, branch: int, back: int, peer_cosigned: bool, with_proof: bool
    ) -> None:
        WitnessMachine.steps += 1
        size = max(1, self.published[branch] - back)
        note = self.note(branch, size)
        if peer_cosigned:
            note = cosign(note, COSIGNERS[1])
        have, _ = self.stored()
        proofs = []
        if with_proof and 0 < have < size:
            hashes = tuple(self.trees[branch].consistency_proof(have, size))
            proofs.append(Proof(origin_hash(ORIGIN), have, size, hashes))

        async def send() -> None:
            await self.actions.checkpoint(note, proofs, "w1")
            await self._settle()

        self.loop.run(send)

    @rule(n=st.integers(2, TOTAL), m=st.integers(2, TOTAL), flip=st.integers(0, 1 << 16))
    def gossip_evidence(self, n: int, m: int, flip: int) -> None:
        WitnessMachine.steps += 1
        honest, forked = self.trees
        n, m = sorted((n, m))
        if m <= self.common:
            return
        try:
            if n == m or n <= self.common:
                file = build_same_size(checkpoint(honest, m), checkpoint(forked, m), LOG_VERIFIERS)
            else:
                file = build_inconsistent_sizes(
                    checkpoint(honest, n),
                    checkpoint(forked, m),
                    forked.consistency_proof(n, m),
                    LOG_VERIFIERS,
                    prefix_root=forked.root(n),
                )
        except EvidenceError:
            return
        if flip % 3 == 0:
            data = bytearray(file)
            data[flip % len(data)] ^= 1 << (flip % 8)
            file = bytes(data)
        try:
            verify_evidence(file, LOG_VERIFIERS, WITNESSES)
            self.fork_shown = True
        except EvidenceError:
            pass

        async def send() -> None:
            await self.actions.evidence(file, "w1")
            await self._settle()

        self.loop.run(send)

    @rule()
    def scan_rejected(self) -> None:
        WitnessMachine.steps += 1

        async def scan() -> None:
            for r in await self.store.rejected(ORIGIN):
                await self.actions.rejection(r)
            await self._settle()

        self.loop.run(scan)

    # Invariants.

    @invariant()
    def never_cosigned_two_inconsistent_checkpoints(self) -> None:
        # Each new cosignature must verify and be consistent with every earlier one.
        for body, lines in self.issued[len(self.checked) :]:
            note = parse_note(body + b"\n" + lines)
            assert verify_note(note, [WITNESSES[0]]) == [WITNESSES[0]]
            b = parse_checkpoint(note.text)
            on_b = [t for t in self.trees if t.root(b.size) == b.root]
            assert on_b, f"cosigned a checkpoint no history has: {b}"
            for a, on_a in self.checked:
                small, large, tree = (a, b, on_b[0]) if a.size <= b.size else (b, a, on_a[0])
                proof = tree.consistency_proof(small.size, large.size)
                try:
                    verify_consistency(small.size, large.size, small.root, large.root, proof)
                except ProofError:
                    pytest.fail(f"cosigned inconsistent checkpoints {small} and {large}")
            self.checked.append((b, on_b))

    @invariant()
    def stored_size_never_decreases(self) -> None:
        size, _ = self.stored()
        assert size >= self.max_size
        self.max_size = size

    @invariant()
    def frozen_only_on_real_proof_and_then_for_good(self) -> None:
        held_proof = [h for h in self.state.held.values() if h.is_proof]
        if held_proof:
            assert ORIGIN in self.state.frozen
        if ORIGIN not in self.state.frozen:
            assert not self.sink.of("split_view")
            return
        assert self.fork_shown, "frozen, but no fork was ever shown to this witness"
        for h in held_proof:
            if h.fingerprint in self.checked_evidence:
                continue
            self.checked_evidence.add(h.fingerprint)
            file = self.loop.run(self.state.read_file, h.fingerprint)
            assert file is not None
            v = verify_evidence(file, LOG_VERIFIERS, WITNESSES)
            on = [{i for i, t in enumerate(self.trees) if t.root(c.size) == c.root} for c in
                  (v.first, v.second)]  # fmt: skip
            assert on[0] and on[1] and on[0].isdisjoint(on[1]), f"evidence of no fork: {v}"
        if self.cosigned_when_frozen is None:
            self.cosigned_when_frozen = len(self.issued)
        assert len(self.issued) == self.cosigned_when_frozen, "cosigned a frozen log"
        assert self.witness.cosigned_checkpoint(ORIGIN) is None


def test_witness_never_cosigns_a_fork_or_moves_back() -> None:
    WitnessMachine.steps = WitnessMachine.cosignatures = WitnessMachine.frozen = 0
    run_state_machine_as_test(
        WitnessMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    print(
        f"{WitnessMachine.steps} steps, {WitnessMachine.cosignatures} cosignatures, "
        f"{WitnessMachine.frozen} of {EXAMPLES} examples ended frozen"
    )
    assert WitnessMachine.steps >= MIN_STEPS, WitnessMachine.steps
    # The run must have reached both sides: cosigning, and catching the fork.
    assert WitnessMachine.cosignatures > EXAMPLES
    assert WitnessMachine.frozen > EXAMPLES // 10
