"""What a witness does with each outcome of the gossip protocol (gossip.reconcile).

- Same: keep the union of cosignatures (cosignature aggregation).
- Advance: submit through `Witness.submit`, the witness's one advance path (it
  may cosign); keep the cosigned note with every cosignature.
- NeedProof: fetch the proof from the log's tiles in the background; after
  `proof_attempts` tries without one that verifies, sign a suspicion, warn,
  and send it to every peer. Never a page: a slow log looks the same.
- PeerBehind: the peer holds an older checkpoint (it sends it back when it could
  not check our newer one). Unless this witness held that checkpoint itself,
  check it against ours with a proof from the log's tiles: only the larger side
  can prove a fork from a power-of-two size, and only it may have the tiles.
- Conflict, or proof received from a peer (re-verified by receive_evidence):
  store it, freeze the log (no cosignature for it ever again), page once per
  log, push it to every peer at once; page once per log and witness for proof
  of a witness's equivocation.

Network work (proofs, pushes) runs in WORKERS background tasks fed through a
bounded queue: a request handler never waits for the network. A job already
queued is not queued twice, and a full queue drops the job (counted).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from functools import partial

import trio

from gossip import alerts
from gossip.evidence import (
    Reason,
    SuspicionFile,
    VerifiedEvidence,
    build_suspicion,
    is_power_of_two,
    parse_evidence,
    verify_evidence,
)
from gossip.messages import Proof
from gossip.metrics import GossipMetrics
from gossip.proofs import ProofSource
from gossip.reconcile import (
    Advance,
    Conflict,
    LogView,
    NeedProof,
    Outcome,
    PeerBehind,
    Proven,
    Rejected,
    Same,
    Suspected,
    Unverifiable,
    check_proof,
    classify,
    merge_cosignatures,
    receive_evidence,
)
from gossip.state import SUSPICION, GossipState, Held
from gossip.views import Views
from tlog.alert import AlertSink
from tlog.checkpoint import parse_checkpoint
from tlog.errors import TlogError
from tlog.note import Verifier, parse_note
from witness.decide import AddCheckpointRequest, Rejection
from witness.service import Cosigned, Witness

WORKERS = 4
QUEUE_SIZE = 1024
MEMORY = 4096  # entries in each bounded memory: attempts, checked pairs, rejections seen

_CONTROL = re.compile("[\x00-\x1f\x7f]")

log = logging.getLogger("gossip")

Job = Callable[[], Awaitable[None]]


class _Bounded(OrderedDict[Hashable, int]):
    """A dict that forgets its oldest entries beyond MEMORY."""

    def __setitem__(self, key: Hashable, value: int) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        if len(self) > MEMORY:
            self.popitem(last=False)


def _label(outcome: object) -> str:
    """The metric label of an outcome: its class name in snake case (need_proof)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(outcome).__name__).lower()


class Actions:
    """Acts on checkpoints and evidence from peers (and rejected add-checkpoint requests)."""

    def __init__(
        self,
        witness: Witness,
        state: GossipState,
        views: Views,
        proofs: ProofSource,
        sink: AlertSink,
        metrics: GossipMetrics,
        cosigners: Sequence[Verifier],
        *,
        proof_attempts: int,
        push: Callable[[bytes], Awaitable[None]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.witness = witness
        self.state = state
        self.views = views
        self.proofs = proofs
        self.sink = sink
        self.metrics = metrics
        self.cosigners = tuple(cosigners)
        self.proof_attempts = proof_attempts
        self._push = push
        self._clock = clock
        self._send, self._receive = trio.open_memory_channel[tuple[Hashable, Job]](QUEUE_SIZE)
        self._queued: set[Hashable] = set()
        self._attempts = _Bounded()
        self._suspected = _Bounded()
        self._consistent = _Bounded()
        self._rejections = _Bounded()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the background jobs until cancelled."""
        async with trio.open_nursery() as nursery:
            for _ in range(WORKERS):
                nursery.start_soon(self._work)
            task_status.started()

    def busy(self) -> bool:
        """Whether a background job is queued or running."""
        return bool(self._queued)

    async def _work(self) -> None:
        async for key, job in self._receive:
            try:
                await job()
            finally:
                self._queued.discard(key)

    def _enqueue(self, key: Hashable, job: Job) -> None:
        if key in self._queued:
            return
        try:
            self._send.send_nowait((key, job))
        except trio.WouldBlock:
            self.metrics.dropped.inc()
            return
        self._queued.add(key)

    # Checkpoints.

    async def checkpoint(self, note: bytes, proofs: Sequence[Proof], source: str) -> Outcome:
        """Classify a checkpoint a peer sent (with the proofs that came along), act, and
        return the outcome."""
        outcome = classify(
            note, self.views, self.witness.registry.verifiers, self.cosigners, proofs
        )
        await self._act(outcome, note, source)
        return outcome

    async def rejection(self, r: Rejection) -> None:
        """Turn a checkpoint the witness refused (kept by its store) into proof, if it is."""
        key = hashlib.sha256(r.checkpoint + b"".join(r.proof)).digest()
        if key in self._rejections:
            return
        self._rejections[key] = 1
        try:
            cp = parse_checkpoint(parse_note(r.cosigned).text)
            cosigned = {r.origin: LogView(r.origin, cp.size, cp.root, r.cosigned)}
        except (ValueError, TlogError) as e:
            log.info("unusable rejected checkpoint", extra={"origin": r.origin, "error": str(e)})
            return
        proofs = [Proof(cosigned[r.origin].origin_hash, r.old_size, r.new_size, r.proof)]
        outcome = classify(
            r.checkpoint, cosigned, self.witness.registry.verifiers, self.cosigners, proofs
        )
        if isinstance(outcome, Conflict):
            await self._act(outcome, r.checkpoint, "add-checkpoint")

    async def _act(self, outcome: Outcome, note: bytes, source: str) -> None:
        self.metrics.checkpoints.labels(_label(outcome)).inc()
        if isinstance(outcome, Same):
            if outcome.added:
                await self._keep_note(outcome.origin, outcome.note)
        elif isinstance(outcome, Advance):
            await self._advance(outcome)
        elif isinstance(outcome, NeedProof):
            if outcome.origin not in self.state.frozen:
                key = ("proof", outcome.origin, outcome.old_size, outcome.new_size)
                self._enqueue(key, lambda: self._fetch_proof(outcome, source))
        elif isinstance(outcome, PeerBehind):
            self._check_older(outcome, note, source)
        elif isinstance(outcome, Conflict):
            await self._conflict(outcome, source)
        elif isinstance(outcome, Unverifiable):
            log.info(
                "unverifiable checkpoint from a peer",
                extra={"source": source, "reason": outcome.reason, "detail": outcome.detail},
            )

    async def _keep_note(self, origin: str, note: bytes) -> None:
        text = parse_note(note).text
        await self.state.put_note(origin, text, parse_checkpoint(text).size, note)

    async def _advance(self, a: Advance) -> None:
        if a.origin in self.state.frozen:
            return
        request = AddCheckpointRequest(a.old_size, a.proof, a.note)
        result = await self.witness.submit(request, rate_limit=False)
        trusted = self.witness.registry.get(a.origin)
        if not isinstance(result, Cosigned) or trusted is None:
            log.debug("gossip checkpoint not cosigned", extra={"origin": a.origin})
            return
        merged, _ = merge_cosignatures(
            a.note + result.lines, a.note, trusted.verifiers, self.cosigners
        )
        await self._keep_note(a.origin, merged)

    def _verifiers(self, origin: str) -> Sequence[Verifier]:
        return self.witness.registry.verifiers(origin) or ()

    async def _fetch_proof(self, need: NeedProof, source: str) -> None:
        mine = self.views.get(need.origin)
        if mine is None or mine.note is None or mine.size != need.old_size:
            return
        if need.origin in self.state.frozen:
            return
        key = (need.origin, need.old_size, need.new_size)
        proof = await self.proofs.consistency(need.origin, need.old_size, need.new_size)
        reason = Reason.NO_PROOF
        if proof is not None:
            prefix = None
            if is_power_of_two(need.old_size):
                prefix = await self.proofs.prefix_root(need.origin, need.old_size, need.new_size)
            outcome = check_proof(
                mine, need.note, proof, self._verifiers(need.origin), self.cosigners, prefix
            )
            if not isinstance(outcome, NeedProof):
                self._attempts.pop(key, None)
                await self._act(outcome, need.note, source)
                return
            reason = Reason.BAD_PROOF
        attempts = self._attempts.get(key, 0) + 1
        self._attempts[key] = attempts
        if attempts >= self.proof_attempts and key not in self._suspected:
            self._suspected[key] = 1
            await self._suspect(mine.note, need, reason, attempts)

    async def _suspect(self, mine: bytes, need: NeedProof, reason: Reason, attempts: int) -> None:
        build = partial(
            build_suspicion,
            self.witness.signer.key,
            reason,
            attempts,
            _CONTROL.sub(" ", need.reason)[:200],
            mine,
            need.note,
            self._verifiers(need.origin),
            int(self._clock()),
        )
        # An ssh-agent key signs over a socket: not on the event loop.
        file = await trio.to_thread.run_sync(build) if self.witness.keyring.blocking else build()
        parsed = parse_evidence(file)
        if not isinstance(parsed, SuspicionFile):
            raise TypeError("build_suspicion did not build a suspicion")
        self.metrics.suspicions.inc()
        log.warning(
            "log did not produce a consistency proof",
            extra={
                "origin": need.origin,
                "sizes": [need.old_size, need.new_size],
                "attempts": attempts,
                "reason": reason.value,
            },
        )
        if await self._hold_suspicion(file, parsed, "self"):
            self._enqueue(("push", hashlib.sha256(file).hexdigest()), lambda: self._push(file))

    def _check_older(self, behind: PeerBehind, note: bytes, source: str) -> None:
        if behind.peer_size == 0 or behind.origin in self.state.frozen:
            return
        if not self.proofs.can_fetch(behind.origin):
            return
        text = parse_note(note).text
        key = (behind.origin, text)
        if key in self._consistent or self.state.note(behind.origin, text) is not None:
            return
        self._enqueue(("older", *key), lambda: self._check(behind.origin, note, key, source))

    async def _check(self, origin: str, note: bytes, key: Hashable, source: str) -> None:
        mine = self.views.get(origin)
        cp = parse_checkpoint(parse_note(note).text)
        if mine is None or mine.note is None or mine.size <= cp.size:
            return
        proof = await self.proofs.consistency(origin, cp.size, mine.size)
        if proof is None:
            return
        prefix = None
        if is_power_of_two(cp.size):
            prefix = await self.proofs.prefix_root(origin, cp.size, mine.size)
        older = LogView(origin, cp.size, cp.root, note)
        outcome = check_proof(
            older, mine.note, proof, self._verifiers(origin), self.cosigners, prefix
        )
        if isinstance(outcome, Advance):
            self._consistent[key] = 1
        elif isinstance(outcome, Conflict):
            await self._act(outcome, note, source)

    # Evidence.

    async def _conflict(self, c: Conflict, source: str) -> None:
        await self._hold_proof(c.evidence, c.verified, source)
        for file in c.equivocations:
            verified = verify_evidence(file, self._verifiers(c.origin), self.cosigners)
            await self._hold_proof(file, verified, source)

    async def evidence(self, file: bytes, source: str) -> None:
        """Re-verify an evidence or suspicion file from a peer and act on it."""
        outcome = receive_evidence(
            file, self.witness.registry.verifiers, self.cosigners, known=self.state.held
        )
        self.metrics.evidence.labels(_label(outcome)).inc()
        if isinstance(outcome, Proven):
            await self._hold_proof(outcome.file, outcome.verified, source)
        elif isinstance(outcome, Suspected):
            await self._hold_suspicion(outcome.file, outcome.suspicion, source)
        elif isinstance(outcome, Rejected):
            log.info(
                "evidence from a peer rejected",
                extra={"source": source, "reason": outcome.reason, "detail": outcome.detail},
            )

    async def _hold_proof(self, file: bytes, verified: VerifiedEvidence, source: str) -> None:
        held = Held(
            verified.fingerprint,
            verified.origin,
            verified.kind.value,
            verified.witness,
            source,
            self._clock(),
        )
        first_of_witness = verified.witness is not None and not any(
            h.origin == verified.origin and h.witness == verified.witness
            for h in self.state.held.values()
        )
        stored, frozen = await self.state.hold(held, file, freeze=True)
        if not stored:
            return
        log.error(
            "proof of misbehaviour",
            extra={
                "origin": verified.origin,
                "kind": verified.kind.value,
                "fingerprint": verified.fingerprint,
                "witness": verified.witness,
                "source": source,
                "frozen_now": frozen,
            },
        )
        self._enqueue(("push", verified.fingerprint), lambda: self._push(file))
        if frozen:
            await self.sink.raise_alert(alerts.split_view(verified, file, source))
        if first_of_witness:
            await self.sink.raise_alert(alerts.equivocation(verified, file, source))

    async def _hold_suspicion(self, file: bytes, s: SuspicionFile, source: str) -> bool:
        held = Held(
            hashlib.sha256(file).hexdigest(),
            s.smaller.checkpoint.origin,
            SUSPICION,
            s.reporter,
            source,
            self._clock(),
        )
        stored, _ = await self.state.hold(held, file, freeze=False)
        if stored:
            await self.sink.raise_alert(alerts.suspicion(s, file, source))
        return stored
