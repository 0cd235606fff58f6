"""The gossip node: a thin trio shell that runs the pure protocol between witnesses.

Every interval (jittered ±50%) the node runs one push-pull exchange with a
peer chosen uniformly at random (membership.choose_peer):

    A -> B   A's digest: (origin hash, size, root, cosigner tag) of every log
    B -> A   B's checkpoints where B's view is newer or differs (with consistency
             proofs from A's sizes where B can get them), and a request for A's
             checkpoints where A's is newer or differs; 204 when the views agree
    A -> B   the checkpoints B asked for, with proofs

B plans against A's digest (reconcile.plan_exchange), so a second digest would
say nothing new. Both sides handle what they receive the same way (`_handle`):
answer a digest or a request with checkpoints, classify each checkpoint and
re-verify each evidence file (gossip.actions says what follows). A side that
cannot check a newer checkpoint (no proof that verifies) sends its own back, so
that the side with the larger tree can. Evidence is also pushed, outside
exchanges, to every peer at once.

After each exchange the node reads the checkpoints the witness refused as
inconsistent (its store's `rejected` table), REJECTED_SCAN logs at a time, and
turns those that prove a fork into evidence: a log that shows a fork only to
this witness, by add-checkpoint, is caught too.

Every network call runs under the gossip timeout; shutdown is cancellation.
Within an exchange, a request that gets no answer (lost, or timed out) is sent
once more, as a fresh message (EXCHANGE_ATTEMPTS); the retry is part of the
same exchange.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence

import httpx
import trio

from gossip.actions import Actions
from gossip.errors import MembershipError, PeerError
from gossip.membership import Member, Network, choose_peer
from gossip.messages import (
    MAX_NOTES,
    MAX_PAYLOADS,
    CheckpointRequest,
    Checkpoints,
    Digest,
    Evidence,
    Payload,
    Proof,
)
from gossip.messenger import Messenger
from gossip.metrics import GossipMetrics
from gossip.proofs import ProofSource
from gossip.reconcile import NeedProof, Offer, answer_request, make_digest, plan_exchange
from gossip.state import GossipState
from gossip.views import Views
from tlog.alert import AlertSink
from witness.service import Witness

JITTER = 0.5
MAX_OFFERS = min(256, MAX_NOTES)
MAX_PROOFS = MAX_PAYLOADS - 3  # room for the checkpoints, the request and one spare
PUSH_ATTEMPTS = 3
EXCHANGE_ATTEMPTS = 2  # each request of an exchange: once, and once more if it is lost
REJECTED_SCAN = 16

log = logging.getLogger("gossip")


def find_self(network: Network, witness: Witness) -> Member:
    """This witness's member entry: the one with its key."""
    public = witness.signer.key.public
    me = next((m for m in network.members if m.public == public), None)
    if me is None:
        raise MembershipError(
            f"the network file does not list this witness's key ({witness.signer.key.vkey()})"
        )
    return me


class GossipNode:
    """Gossip for one witness: `run` the exchanges, `receive` the peers' messages."""

    def __init__(
        self,
        witness: Witness,
        network: Network,
        state: GossipState,
        sink: AlertSink,
        http: httpx.AsyncClient,
        proofs: ProofSource,
        metrics: GossipMetrics,
        *,
        interval: float,
        timeout: float,
        proof_attempts: int,
        rng: random.Random | None = None,
    ) -> None:
        self.witness = witness
        self.state = state
        self.interval = interval
        self.timeout = timeout
        self.metrics = metrics
        self._rng = rng or random.Random()
        self.me = find_self(network, witness)
        self.messenger = Messenger(
            self.me, witness.signer.key, network, state, http, metrics, timeout=timeout
        )
        cosigners = network.cosigners()
        self.views = Views(witness, state, cosigners)
        self.actions = Actions(
            witness,
            state,
            self.views,
            proofs,
            sink,
            metrics,
            cosigners,
            proof_attempts=proof_attempts,
            push=self.push,
        )
        self._scan_from = 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Exchange with a random peer every interval, until cancelled."""
        async with trio.open_nursery() as nursery:
            await nursery.start(self.actions.run)
            task_status.started()
            while True:
                await trio.sleep(self.interval * self._rng.uniform(1 - JITTER, 1 + JITTER))
                peer = choose_peer(self.messenger.network.members, self.me.name, self._rng)
                try:
                    outcome = await self.exchange(peer)
                except PeerError as e:
                    outcome = e.outcome
                    log.info("gossip exchange failed", extra={"peer": peer.name, "error": str(e)})
                self.metrics.exchanges.labels(outcome).inc()
                await self.scan_rejected()

    async def exchange(self, peer: Member) -> str:
        """One push-pull exchange with `peer`; its outcome label. Raises PeerError."""
        await self.views.refresh()
        digest = [make_digest(self.views.values())]
        reply = await self.messenger.post(peer, digest, attempts=EXCHANGE_ATTEMPTS)
        if reply is None:
            return "in_sync"
        follow = await self._handle(peer.name, reply.payloads, self.timeout)
        if follow:
            last = await self.messenger.post(peer, follow, attempts=EXCHANGE_ATTEMPTS)
            if last is not None:
                await self._handle(peer.name, last.payloads, self.timeout)
        return "exchanged"

    async def receive(self, data: bytes) -> bytes | None:
        """Handle a message a peer POSTed: the answer's wire bytes, or None (nothing to say).

        Raises the GossipError of a message that fails a check; then nothing changed.
        """
        msg = await self.messenger.open(data)
        reply = await self._handle(msg.sender, msg.payloads, self.timeout / 2)
        if not reply:
            return None
        return await self.messenger.encode(msg.sender, reply)

    async def _handle(
        self, sender: str, payloads: Sequence[Payload], budget: float
    ) -> list[Payload]:
        """Act on a message's payloads; what to answer (checkpoints, proofs, a request).

        Checkpoints and evidence are handled first, in order, so that the
        checkpoints offered in answer are the ones after any advance.
        """
        proofs = [p for p in payloads if isinstance(p, Proof)]
        offers: dict[str, Offer] = {}
        request: CheckpointRequest | None = None
        for p in payloads:
            if isinstance(p, Checkpoints):
                for note in p.notes:
                    outcome = await self.actions.checkpoint(note, proofs, sender)
                    if isinstance(outcome, NeedProof):
                        # Ours goes back: the peer, on the larger tree, may prove the fork.
                        offers[outcome.origin] = Offer(outcome.origin, outcome.new_size)
            elif isinstance(p, Evidence):
                await self.actions.evidence(p.file, sender)
            elif isinstance(p, Digest):
                await self.views.refresh()
                plan = plan_exchange(self.views, p)
                offers.update((o.origin, o) for o in plan.offers)
                request = plan.request()
            elif isinstance(p, CheckpointRequest):
                await self.views.refresh()
                offers.update((o.origin, o) for o in answer_request(self.views, p))
        answer = await self._offer(list(offers.values()), budget)
        return answer if request is None else [*answer, request]

    async def _offer(self, offers: list[Offer], budget: float) -> list[Payload]:
        """Our checkpoints for `offers`, with consistency proofs from the peer's sizes where
        the log's tiles give one within `budget` seconds."""
        await self.views.refresh(o.origin for o in offers[:MAX_OFFERS])
        views = [(o, self.views[o.origin]) for o in offers[:MAX_OFFERS] if o.origin in self.views]
        views = [(o, v) for o, v in views if v.note is not None]
        if not views:
            return []
        proofs: dict[str, Proof] = {}

        async def fetch(offer: Offer, size: int, origin_hash: bytes) -> None:
            hashes = await self.actions.proofs.consistency(offer.origin, offer.peer_size, size)
            if hashes is not None:
                proofs[offer.origin] = Proof(origin_hash, offer.peer_size, size, tuple(hashes))

        wanted = [
            (o, v)
            for o, v in views
            if 0 < o.peer_size < v.size and self.actions.proofs.can_fetch(o.origin)
        ]
        with trio.move_on_after(budget):
            async with trio.open_nursery() as nursery:
                for o, v in wanted[:MAX_PROOFS]:
                    nursery.start_soon(fetch, o, v.size, v.origin_hash)
        notes = tuple(v.note for _, v in views if v.note is not None)
        return [Checkpoints(notes), *proofs.values()]

    async def push(self, file: bytes) -> None:
        """Send an evidence file to every peer at once; retry each a few times."""

        async def one(peer: Member) -> None:
            for attempt in range(PUSH_ATTEMPTS):
                try:
                    reply = await self.messenger.post(peer, [Evidence(file)])
                except PeerError as e:
                    log.info("evidence push failed", extra={"peer": peer.name, "error": str(e)})
                    await trio.sleep(self.interval * 2**attempt)
                    continue
                if reply is not None:
                    await self._handle(peer.name, reply.payloads, self.timeout)
                return

        async with trio.open_nursery() as nursery:
            for peer in self.messenger.peers():
                nursery.start_soon(one, peer)

    async def scan_rejected(self) -> None:
        """Read the next REJECTED_SCAN logs' refused checkpoints; keep what proves a fork."""
        origins = sorted(t.origin for t in self.witness.registry)
        if not origins:
            return
        start = self._scan_from % len(origins)
        batch = (origins[start:] + origins[:start])[:REJECTED_SCAN]
        self._scan_from = start + len(batch)
        for origin in batch:
            for r in await self.witness.store.rejected(origin):
                await self.actions.rejection(r)
