"""The witness: the one code path from a checkpoint to a cosignature.

HTTP add-checkpoint requests (`add_checkpoint`) and feeders that pull
checkpoints from logs (`submit`, with a request they build) both come here:

    verify_request (pure) -> rate limit -> decide (pure, against committed state)
      -> Store.compare_and_swap (durable) -> cosign

A log-signed checkpoint that contradicts the cosigned one is refused and queued
for the store's `rejected` table (`decide.rejection`), without waiting for it.

If the compare-and-swap loses a race, the state moved forward in the meantime
and the request is decided again against the new state. Nothing is cosigned
that the database does not already hold, or hold a successor of.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass

import trio

from tlog.checkpoint import Checkpoint
from tlog.cosignature import CosignatureV1Signer
from tlog.note import parse_note
from witness.decide import (
    Accept,
    AddCheckpointRequest,
    LogState,
    Reason,
    Reject,
    decide,
    parse_request,
    rejection,
    verify_request,
)
from witness.errors import MalformedRequestError
from witness.keyring import KeyRing
from witness.metrics import WitnessMetrics
from witness.ratelimit import RateLimiter
from witness.registry import Registry, TrustedLog
from witness.store import Store

log = logging.getLogger("witness")


@dataclass(frozen=True, slots=True)
class Cosigned:
    """A cosigned checkpoint: `lines` is the add-checkpoint 200 response body."""

    checkpoint: Checkpoint
    lines: bytes
    advanced: bool


class Witness:
    """A witness over a store and a registry of trusted logs.

    The store's writer (`Store.run`) must be running for anything to advance.
    """

    def __init__(
        self,
        signer: CosignatureV1Signer,
        store: Store,
        registry: Registry,
        metrics: WitnessMetrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.signer = signer
        # What cosigns: `signer`, plus the previous key during a rotation (the daemon sets it).
        self.keyring = KeyRing(signer, clock=signer.clock)
        self.store = store
        self.registry = registry
        self.metrics = metrics or WitnessMetrics(store, clock)
        self._clock = clock
        self._limiter = RateLimiter()
        # Logs never to cosign again; gossip puts its live set of logs proven to have forked here.
        self.frozen: Container[str] = frozenset()

    @property
    def name(self) -> str:
        return self.signer.name

    async def add_checkpoint(self, body: bytes) -> Cosigned | Reject:
        """Handle an add-checkpoint request body (rate-limited by the log's qpd)."""
        try:
            request = parse_request(body)
        except MalformedRequestError as e:
            return self._count(Reject(Reason.MALFORMED, str(e)))
        return await self.submit(request)

    async def submit(
        self, request: AddCheckpointRequest, *, rate_limit: bool = True
    ) -> Cosigned | Reject:
        """Decide, persist and cosign one request.

        Feeders pass `rate_limit=False`: they poll on the witness's own schedule.
        Raises StoreError if the state cannot be written.
        """
        verified = verify_request(request, self.registry.verifiers)
        if isinstance(verified, Reject):
            return self._count(verified)
        origin = verified.checkpoint.origin
        trusted = self.registry.get(origin)
        if rate_limit and trusted is not None and trusted.qpd is not None:
            wait = self._limiter.take(origin, trusted.qpd)
            if wait > 0:
                detail = f"over the log's budget of {trusted.qpd} requests per day"
                return self._count(Reject(Reason.RATE_LIMITED, detail, retry_after=math.ceil(wait)))
        # Each retry means another request advanced the log, or the log was frozen: the loop ends.
        while True:
            if origin in self.frozen:
                detail = (
                    f"{origin} is frozen: this witness holds proof that it forked (GET /evidence)"
                )
                return self._count(Reject(Reason.FROZEN, detail))
            state = self.store.latest(origin) or LogState(origin)
            now = self._clock()
            outcome = decide(state, verified, now)
            if isinstance(outcome, Reject):
                evidence = rejection(state, verified, outcome, now)
                if evidence is not None:
                    await self.store.record_rejected(evidence)
                return self._count(outcome)
            committed = outcome.advance is None or await self.store.compare_and_swap(
                state, outcome.state, outcome.advance
            )
            if committed and origin not in self.frozen:
                if self.keyring.blocking:
                    return await trio.to_thread.run_sync(self._cosign, outcome)
                return self._cosign(outcome)

    def _cosign(self, accept: Accept) -> Cosigned:
        cp = accept.checkpoint
        lines = self.keyring.cosign(cp.body().encode())
        self.metrics.cosignatures.inc()
        if accept.advance is not None:
            self.metrics.advances.inc()
        return Cosigned(cp, lines, accept.advance is not None)

    def _count(self, reject: Reject) -> Reject:
        self.metrics.rejections.labels(reject.reason.label).inc()
        return reject

    def cosigned_checkpoint(self, origin: str) -> bytes | None:
        """The latest stored checkpoint with its log signatures and a fresh cosignature.

        Other signatures the log sent along are dropped; None if nothing is stored or the
        log is frozen.
        """
        state = self.store.latest(origin)
        trusted = self.registry.get(origin)
        if state is None or state.checkpoint is None or trusted is None or origin in self.frozen:
            return None
        note = parse_note(state.checkpoint)
        log_keys = {(v.name, v.key_id) for v in trusted.verifiers}
        kept = [s for s in note.signatures if (s.name, s.key_id) in log_keys]
        text = note.text.encode()
        ours = self.keyring.cosign(text)
        return text + b"\n" + b"".join(s.line().encode() for s in kept) + ours

    async def trust(self, logs: Iterable[TrustedLog], *, authoritative: bool) -> list[TrustedLog]:
        """Start trusting logs, storing their keys first; return the ones that changed.

        `authoritative` (the config file) replaces keys; otherwise (log lists) only
        new origins are added.
        """
        if authoritative:
            changed = [t for t in logs if self.registry.get(t.origin) != t]
        else:
            changed = [t for t in logs if self.registry.admits(t)]
        if changed:
            await self.store.register(t.keys() for t in changed)
        for t in changed:
            self.registry.put(t)
        if changed:
            sources = sorted({t.source for t in changed})
            log.info("trusting logs", extra={"count": len(changed), "sources": sources})
        return changed
