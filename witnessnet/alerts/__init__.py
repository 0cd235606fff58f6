"""Alerts: the durable outbox every role raises alerts into, and its delivery.

A daemon wires it once, in its own nursery::

    config = parse_alerts_config(data.get("alerts", {}), f"{path}: alerts", base=path.parent)
    async with trio.open_nursery() as nursery:
        sink = await nursery.start(
            functools.partial(
                run_alerts, config, state_dir / "alerts.db", source=name, registry=registry
            )
        )
        ...  # hand `sink` (a tlog.alert.AlertSink) to the roles

Shutdown is cancelling that nursery. See docs/alerts.md for the operator's view.
"""

from witnessnet.alerts.config import AlertsConfig, parse_alerts_config
from witnessnet.alerts.destinations import (
    Destination,
    LogDestination,
    WebhookDestination,
    build_destinations,
)
from witnessnet.alerts.dispatcher import Dispatcher, backoff_delay
from witnessnet.alerts.errors import (
    AlertsConfigError,
    AlertsError,
    DeliveryError,
    OutboxError,
    OutboxLockedError,
    PermanentDeliveryError,
)
from witnessnet.alerts.metrics import AlertMetrics, Backlog
from witnessnet.alerts.outbox import Delivery, DeliveryState, Outbox
from witnessnet.alerts.payload import PAYLOAD_VERSION, log_record, payload
from witnessnet.alerts.service import run_alerts

__all__ = [
    "PAYLOAD_VERSION",
    "AlertMetrics",
    "AlertsConfig",
    "AlertsConfigError",
    "AlertsError",
    "Backlog",
    "Delivery",
    "DeliveryError",
    "DeliveryState",
    "Destination",
    "Dispatcher",
    "LogDestination",
    "Outbox",
    "OutboxError",
    "OutboxLockedError",
    "PermanentDeliveryError",
    "WebhookDestination",
    "backoff_delay",
    "build_destinations",
    "log_record",
    "parse_alerts_config",
    "payload",
    "run_alerts",
]
