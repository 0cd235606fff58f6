"""Delivering findings: from the store's outbox to every alert sink, each finding once.

A finding is marked delivered only after every sink's ``raise_alert``
returned (the AlertSink contract: durably queued). A crash before the mark
sends it again on restart, and sinks drop alerts whose dedupe key they have
already taken, so each finding is alerted exactly once. A sink that fails
stops delivery; what is left is retried at the next delivery.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import trio

from monitor.store import Store
from tlog.alert import AlertSink

logger = logging.getLogger("monitor")


class Outbox:
    """The store's undelivered findings, sent to sinks in the order they were found."""

    def __init__(self, store: Store, sinks: Sequence[AlertSink]) -> None:
        self.store = store
        self.sinks = tuple(sinks)
        self._lock = trio.Lock()

    async def deliver(self) -> int:
        """Send every undelivered finding; return how many were delivered now."""
        async with self._lock:
            delivered = 0
            for finding_id, finding in await self.store.run(self.store.undelivered):
                alert = finding.alert()
                try:
                    for sink in self.sinks:
                        await sink.raise_alert(alert)
                except Exception as e:
                    logger.error(
                        "alert delivery failed; will retry",
                        extra={"sink": type(sink).__name__, "finding": finding.dedupe_key,
                               "error": f"{type(e).__name__}: {e}"},
                    )  # fmt: skip
                    break
                await self.store.run(self.store.mark_delivered, finding_id)
                delivered += 1
            return delivered

    async def pending(self) -> int:
        """How many findings are still undelivered."""
        return len(await self.store.run(self.store.undelivered))
