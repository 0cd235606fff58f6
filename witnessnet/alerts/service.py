"""The alerts shell as one task a daemon starts: outbox, destinations and dispatcher."""

from __future__ import annotations

import functools
from pathlib import Path

import httpx
import trio
from prometheus_client import CollectorRegistry

from witnessnet.alerts.config import AlertsConfig
from witnessnet.alerts.destinations import build_destinations
from witnessnet.alerts.dispatcher import Dispatcher
from witnessnet.alerts.metrics import AlertMetrics
from witnessnet.alerts.outbox import Outbox


async def run_alerts(
    config: AlertsConfig,
    outbox_path: str | Path,
    *,
    source: str,
    registry: CollectorRegistry,
    task_status: trio.TaskStatus[Outbox] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Open the outbox at `outbox_path` and deliver from it until cancelled.

    Start it with `outbox = await nursery.start(run_alerts, ...)`: the outbox is the
    `AlertSink` to hand to every role. `source` names this daemon in every alert
    (e.g. the witness's key name); metrics are registered in `registry`.
    Raises OutboxError (e.g. OutboxLockedError) before starting.
    """
    metrics = AlertMetrics(registry)
    async with httpx.AsyncClient(timeout=config.webhook_timeout) as client:
        destinations = build_destinations(config, client, source)
        routes = {d.name: d.classes for d in destinations}
        outbox = await trio.to_thread.run_sync(
            functools.partial(
                Outbox.open, outbox_path, routes, warn_hold=config.warn_hold, metrics=metrics
            )
        )
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(Dispatcher(outbox, destinations, config, metrics).run)
                task_status.started(outbox)
        finally:
            outbox.close()
