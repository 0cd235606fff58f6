"""Feeders: pull a ledger's signed heads into the witness, through `Witness.submit`.

For each configured log with a `url`, a feeder reads it through the
tlog.ledger.LedgerSource of the log's `kind` (tiles, CT, static CT, CCF, SCITT)
and polls its checkpoint every `poll_interval` seconds (jittered, first poll at
a random point of the first interval so that many logs spread out). When the
checkpoint is newer than the stored one, it asks the source for the consistency
proof from the stored size to the new one (under the new checkpoint's tree) and submits
`old <stored size>`, the proof and the checkpoint exactly as a log pushing it
would: the same verification, compare-and-swap and evidence keeping. A 409
(someone else advanced the log meanwhile) is retried once against the new state.

A feeder never stops the daemon over its log: unreachable logs, bad notes, bad
tiles, timeouts and rejections are counted in `witness_feeder_errors{origin,
kind}`, logged, and retried after an exponential backoff. Only a failure of the
witness's own state (StoreError) ends it, as it ends the daemon.

`old_size_for` is the pure decision of what to submit; `Feeder` is the shell.
"""

from __future__ import annotations

import logging
import random

import httpx
import trio

from tlog.checkpoint import Checkpoint
from tlog.errors import CheckpointError, NoteError, TlogError
from tlog.ledger import open_source
from tlog.tiles_client import LogStatusError, LogUnavailableError
from witness.decide import AddCheckpointRequest, LogState, Reason, Reject
from witness.errors import StoreError
from witness.registry import TrustedLog
from witness.service import Cosigned, Witness

DEFAULT_INTERVAL = 30.0
REQUEST_TIMEOUT = 10.0
POLL_TIMEOUT = 60.0
MAX_BACKOFF = 900.0
JITTER = 0.2

log = logging.getLogger("witness.feeder")


def old_size_for(state: LogState, checkpoint: Checkpoint) -> int | None:
    """The `old` size to submit `checkpoint` with, or None when there is nothing to do.

    Nothing to do: the checkpoint is the stored one, or older (a cache or mirror
    lagging behind; the witness cannot prove anything about it). A checkpoint of
    the stored size with another root is submitted, so that it is refused and kept.
    """
    if state.root is None:
        return 0
    if checkpoint.size < state.size:
        return None
    if checkpoint.size == state.size and checkpoint.root == state.root:
        return None
    return state.size


def error_kind(error: BaseException) -> str:
    """The `kind` label of a failed poll."""
    if isinstance(error, trio.TooSlowError):
        return "timeout"
    if isinstance(error, LogUnavailableError):
        return "unavailable"
    if isinstance(error, LogStatusError):
        return "http_status"
    if isinstance(error, NoteError | CheckpointError):
        return "bad_checkpoint"
    if isinstance(error, TlogError):
        return "bad_tiles"
    return "internal"


def backoff(interval: float, failures: int) -> float:
    """Seconds before the next poll after `failures` failed polls in a row (unjittered)."""
    if failures == 0:
        return interval
    return min(interval * 2 ** min(failures, 16), max(interval, MAX_BACKOFF))


class Feeder:
    """Follows one log at `trusted.url`; `run` until cancelled."""

    def __init__(
        self,
        witness: Witness,
        trusted: TrustedLog,
        http: httpx.AsyncClient,
        *,
        interval: float = DEFAULT_INTERVAL,
        rng: random.Random | None = None,
    ) -> None:
        if trusted.url is None:
            raise ValueError(f"log {trusted.origin!r} has no url to feed from")
        self.witness = witness
        self.origin = trusted.origin
        self.interval = interval
        self.client = open_source(
            trusted.kind,
            trusted.url,
            trusted.verifiers,
            http,
            origin=trusted.origin,
            timeout=REQUEST_TIMEOUT,
        )
        self._rng = rng or random.Random()

    def _sleep_time(self, seconds: float) -> float:
        return seconds * self._rng.uniform(1 - JITTER, 1 + JITTER)

    async def run(self) -> None:
        """Poll until cancelled. Raises StoreError if the witness cannot write its state."""
        await trio.sleep(self._rng.uniform(0, self.interval))
        failures = 0
        while True:
            try:
                with trio.fail_after(POLL_TIMEOUT):
                    outcome = await self.poll()
            except StoreError:
                raise
            except Exception as e:
                failures += 1
                self._failed(error_kind(e), str(e) or type(e).__name__, failures, e)
            else:
                if isinstance(outcome, Reject):
                    failures += 1
                    self._rejected(outcome, failures)
                else:
                    failures = 0
            await trio.sleep(self._sleep_time(backoff(self.interval, failures)))

    async def poll(self) -> Cosigned | Reject | None:
        """One poll: fetch the checkpoint and submit it if it is news.

        Returns the witness's outcome, or None when there was nothing to submit.
        Raises what the ledger source raises for an unusable log, StoreError for the
        witness's own state.
        """
        signed = await self.client.fetch_checkpoint()
        cp, note = signed.checkpoint, signed.note.to_bytes()
        outcome: Cosigned | Reject | None = None
        for _ in range(2):
            state = self.witness.store.latest(self.origin) or LogState(self.origin)
            old = old_size_for(state, cp)
            if old is None:
                return None
            proof = (
                await self.client.consistency_proof(old, cp.size, cp.size)
                if 0 < old < cp.size
                else []
            )
            request = AddCheckpointRequest(old, tuple(proof), note)
            outcome = await self.witness.submit(request, rate_limit=False)
            if not (isinstance(outcome, Reject) and outcome.reason is Reason.CONFLICT):
                break
        if isinstance(outcome, Cosigned) and outcome.advanced:
            log.debug("advanced", extra={"origin": self.origin, "size": cp.size})
        return outcome

    def _failed(self, kind: str, detail: str, failures: int, error: Exception) -> None:
        self.witness.metrics.feeder_errors.labels(self.origin, kind).inc()
        log.warning(
            "feeder poll failed",
            exc_info=error if kind == "internal" else None,
            extra={"origin": self.origin, "kind": kind, "error": detail, "failures": failures},
        )

    def _rejected(self, reject: Reject, failures: int) -> None:
        self.witness.metrics.feeder_errors.labels(self.origin, "rejected").inc()
        fields = {
            "origin": self.origin,
            "kind": "rejected",
            "reason": reject.reason.label,
            "error": reject.detail,
            "failures": failures,
        }
        if reject.reason in (Reason.BAD_PROOF, Reason.FORK):
            log.error("log serves a checkpoint inconsistent with the cosigned one", extra=fields)
        else:
            log.warning("witness refused the log's checkpoint", extra=fields)
