"""Delivering the outbox: one task per destination, retrying with bounded, jittered backoff.

Each destination's task takes its earliest pending delivery that is due, hands it
over, and records the outcome: accepted (delivered), refused for good (failed),
or failed for now (pending again after a backoff delay). With nothing due it
sleeps until the next delivery is due or a new alert is stored. Cancelling the
dispatcher mid-delivery records nothing, so that delivery is repeated later
with the same alert id: delivery is at least once, and receivers dedupe on the id.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Sequence

import trio

from witnessnet.alerts.config import AlertsConfig
from witnessnet.alerts.destinations import Destination
from witnessnet.alerts.errors import DeliveryError, PermanentDeliveryError
from witnessnet.alerts.metrics import AlertMetrics
from witnessnet.alerts.outbox import Delivery, Outbox

log = logging.getLogger("witnessnet.alerts")


def backoff_delay(
    failures: int,
    initial: float,
    maximum: float,
    rng: random.Random,
    retry_after: float | None = None,
) -> float:
    """Seconds to wait after the `failures`-th failed attempt (1, 2, ...).

    The ceiling starts at `initial` and doubles per failure up to `maximum`; the
    delay is uniform in the upper half of the ceiling, so retries of many alerts
    spread out. A destination's `retry_after` lengthens it, never beyond `maximum`.
    """
    ceiling = min(maximum, initial * 2.0 ** min(failures - 1, 64))
    delay = rng.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        delay = max(delay, min(retry_after, maximum))
    return delay


class Dispatcher:
    """Delivers an outbox's pending alerts to destinations; run `run` in a nursery.

    Destination names must be unique; their backlog gauges are reported via `metrics`.
    """

    def __init__(
        self,
        outbox: Outbox,
        destinations: Sequence[Destination],
        config: AlertsConfig,
        metrics: AlertMetrics,
        rng: random.Random | None = None,
    ) -> None:
        self._outbox = outbox
        self._destinations = tuple(destinations)
        self._config = config
        self._metrics = metrics
        self._rng = rng or random.Random()
        metrics.track(outbox.backlog, {d.name: d.label for d in destinations})

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Deliver until cancelled."""
        async with trio.open_nursery() as nursery:
            for destination in self._destinations:
                nursery.start_soon(self._serve, destination)
            task_status.started()

    async def _serve(self, destination: Destination) -> None:
        while True:
            wakeup = self._outbox.wakeup()
            found = await self._outbox.next_delivery(destination.name)
            if isinstance(found, Delivery):
                await self._attempt(destination, found)
                continue
            with trio.move_on_after(math.inf if found is None else max(0.0, found - time.time())):
                await wakeup.wait()

    async def _attempt(self, destination: Destination, delivery: Delivery) -> None:
        context = {
            "alert_id": delivery.id,
            "dedupe_key": delivery.alert.dedupe_key,
            "destination": destination.label,
            "attempt": delivery.attempt,
        }
        try:
            await destination.deliver(delivery)
        except PermanentDeliveryError as e:
            log.error("alert refused; not retrying: %s", e, extra=context)
            await self._outbox.failed(delivery, str(e), None)
            self._metrics.failed.labels(destination.label, "permanent").inc()
        except DeliveryError as e:
            config = self._config
            delay = backoff_delay(
                delivery.attempt, config.retry_initial, config.retry_max, self._rng, e.retry_after
            )
            log.warning("alert not delivered; retrying in %.2fs: %s", delay, e, extra=context)
            await self._outbox.failed(delivery, str(e), time.time() + delay)
            self._metrics.failed.labels(destination.label, "retry").inc()
        else:
            await self._outbox.delivered(delivery)
            self._metrics.delivered.labels(destination.label, delivery.alert.cls).inc()
