"""The sequencer: batches pending entries into commits of a TiledLog.

``add`` queues an entry and returns its index once the batch holding it is
durable and its checkpoint published. ``run`` is the only task that writes the
log: it waits for a first entry, gathers more for up to ``batch_interval``
seconds or until ``batch_size`` entries, and commits them in a worker thread.
At most ``max_pending`` entries wait at once; beyond that ``add`` refuses at
once (the HTTP layer answers 503) rather than queueing without bound.
``add_cosignatures`` republishes the latest checkpoint with witness cosignatures,
serialised with the commits so that it never replaces a newer checkpoint.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import trio

from tlog.note import Signature
from tlog.reflog.errors import AddRefusedError
from tlog.reflog.log import Published, TiledLog

logger = logging.getLogger("tlog.reflog")


@dataclass
class _Pending:
    entries: Sequence[bytes]
    meta: Mapping[str, int]
    counted: bool
    done: trio.Event = field(default_factory=trio.Event)
    index: int = -1


class Sequencer:
    """Owns the writes to one TiledLog; readers use ``published``."""

    def __init__(
        self,
        log: TiledLog,
        *,
        batch_interval: float = 1.0,
        batch_size: int = 256,
        max_pending: int = 4096,
    ) -> None:
        self.log = log
        self.batch_interval = batch_interval
        self.batch_size = batch_size
        self.max_pending = max_pending
        self._pending = 0
        self._send, self._receive = trio.open_memory_channel[_Pending](math.inf)
        self._published_event = trio.Event()
        self._write_lock = trio.Lock()

    @property
    def published(self) -> Published:
        """The latest durable checkpoint."""
        return self.log.published

    async def add(self, entry: bytes) -> int:
        """Sequence one entry; return its index once its checkpoint is published.

        Raises AddRefusedError when max_pending entries are already waiting.
        """
        if self._pending >= self.max_pending:
            raise AddRefusedError(
                f"{self._pending} entries are waiting to be sequenced; retry in a second"
            )
        self._pending += 1
        item = _Pending([entry], {}, counted=True)
        self._send.send_nowait(item)
        await item.done.wait()
        return item.index

    async def add_batch(self, entries: Sequence[bytes], meta: Mapping[str, int]) -> int:
        """Sequence entries together with a meta update; return the first index.

        For the log's own feeders (the fork mirror): not bounded by max_pending.
        """
        item = _Pending(entries, meta, counted=False)
        self._send.send_nowait(item)
        await item.done.wait()
        return item.index

    async def wait_for_size(self, size: int) -> None:
        """Return once the published tree has at least size entries."""
        while self.log.published.size < size:
            await self._published_event.wait()

    async def add_cosignatures(self, size: int, cosignatures: Sequence[Signature]) -> bool:
        """Republish the checkpoint of size with cosignatures; False if it is not the latest."""
        async with self._write_lock:
            return await trio.to_thread.run_sync(self.log.add_cosignatures, size, cosignatures)

    async def run(self) -> None:
        """Sequence batches until cancelled; a failed commit ends the task with its error."""
        while True:
            batch = [await self._receive.receive()]
            count = len(batch[0].entries)
            with trio.move_on_after(self.batch_interval):
                while count < self.batch_size:
                    batch.append(await self._receive.receive())
                    count += len(batch[-1].entries)
            await self._commit(batch)

    async def _commit(self, batch: list[_Pending]) -> None:
        entries = [e for item in batch for e in item.entries]
        meta = {k: v for item in batch for k, v in item.meta.items()}
        started = time.monotonic()
        async with self._write_lock:
            published = await trio.to_thread.run_sync(self.log.commit, entries, meta)
        index = published.size - len(entries)
        for item in batch:
            item.index = index
            index += len(item.entries)
            if item.counted:
                self._pending -= len(item.entries)
            item.done.set()
        event, self._published_event = self._published_event, trio.Event()
        event.set()
        logger.info(
            "published",
            extra={
                "dir": str(self.log.store.root),
                "size": published.size,
                "entries": len(entries),
                "commit_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
