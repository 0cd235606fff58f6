"""Pushing the log's checkpoints to its witnesses and publishing their cosignatures.

After each checkpoint the sequencer publishes, the Cosigner sends it to every
witness at once (C2SP tlog-witness add-checkpoint, through WitnessClient, with
consistency proofs read from the log's own tiles), waits at most ``timeout``
seconds, and republishes the checkpoint with the cosignatures it got. A
witness that is down, slow or refuses only misses that checkpoint: sequencing
never waits for witnesses, and the next checkpoint is pushed to every witness
again. When several checkpoints were published during one round, only the
latest is pushed. At startup the current checkpoint is pushed (unless the log
is empty), so a restarted log collects fresh cosignatures.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import httpx
import trio

from tlog.cosignature import parse_cosigner_vkey
from tlog.errors import TlogError
from tlog.note import Signature
from tlog.reflog.defaults import DEFAULT_WITNESS_TIMEOUT
from tlog.reflog.sequencer import Sequencer
from tlog.witness_client import WitnessClient

logger = logging.getLogger("tlog.reflog.cosigning")


@dataclass(frozen=True)
class WitnessTarget:
    """A witness to push to: its base URL and its cosigner vkey (type 0x04, or 0x01)."""

    url: str
    vkey: str

    def __post_init__(self) -> None:
        parse_cosigner_vkey(self.vkey)


class Cosigner:
    """Collects cosignatures on the sequencer's checkpoints; ``run`` until cancelled."""

    def __init__(
        self,
        sequencer: Sequencer,
        witnesses: Sequence[WitnessTarget],
        http: httpx.AsyncClient,
        *,
        timeout: float = DEFAULT_WITNESS_TIMEOUT,
    ) -> None:
        self.sequencer = sequencer
        self.timeout = timeout
        self.clients = [
            WitnessClient(w.url, parse_cosigner_vkey(w.vkey), http, timeout=timeout)
            for w in witnesses
        ]

    async def run(self) -> None:
        """Push every new checkpoint (at least the latest) until cancelled.

        The empty tree has nothing to witness: pushing starts at size 1.
        """
        pushed = 0
        while True:
            await self.sequencer.wait_for_size(pushed + 1)
            pushed = await self.push_latest()

    async def push_latest(self) -> int:
        """Push the published checkpoint and republish it cosigned; return its size."""
        log = self.sequencer.log
        published = log.published
        size, note = published.size, log.signed_note(published)

        async def proof(old: int, new: int) -> list[bytes]:
            return await trio.to_thread.run_sync(log.consistency_proof, old, new)

        got: dict[int, list[Signature]] = {}

        async def ask(i: int, client: WitnessClient) -> None:
            with trio.move_on_after(self.timeout) as scope:
                try:
                    got[i] = await client.add_checkpoint(note, size, proof)
                except (TlogError, httpx.HTTPError) as e:
                    logger.warning(
                        "witness did not cosign",
                        extra={"witness": client.url, "size": size, "error": str(e)},
                    )
            if scope.cancelled_caught:
                logger.warning(
                    "witness did not cosign",
                    extra={"witness": client.url, "size": size, "error": "timed out"},
                )

        async with trio.open_nursery() as nursery:
            for i, client in enumerate(self.clients):
                nursery.start_soon(ask, i, client)
        cosignatures = [sig for i in sorted(got) for sig in got[i]]
        republished = bool(cosignatures) and await self.sequencer.add_cosignatures(
            size, cosignatures
        )
        logger.info(
            "cosignatures collected",
            extra={
                "size": size,
                "witnesses": len(got),
                "of": len(self.clients),
                "published": republished,
            },
        )
        return size
