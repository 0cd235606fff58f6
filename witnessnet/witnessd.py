"""The witness daemon as the product runs it: the witness role plus alert delivery and gossip.

Roles do not import the product shell, so `witness.daemon.run_witness` takes
an Extension, and `extension` is the one `witnessnet witness serve` passes: it
starts the alerts outbox (witnessnet.alerts) beside the witness database, then
gossip (gossip.daemon) when the config has an enabled `[gossip]` table, with
the outbox as the AlertSink that gossip raises its alerts through. Without
gossip, the logs it froze in earlier runs stay frozen.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path

import trio
from starlette.routing import BaseRoute

from gossip.daemon import frozen_logs, run_gossip
from witness.config import WitnessConfig
from witness.daemon import Extension
from witness.errors import ConfigError
from witness.service import Witness
from witnessnet.alerts import AlertsConfig, AlertsConfigError, parse_alerts_config, run_alerts


def outbox_path(database: Path) -> Path:
    """Where the alerts outbox of the witness with this database lives: beside it."""
    return database.with_suffix(".alerts.db")


def load_alerts(config: WitnessConfig) -> AlertsConfig:
    """The validated `[alerts]` table; raise ConfigError naming the file and key."""
    try:
        return parse_alerts_config(
            dict(config.alerts), f"{config.path}: alerts", base=config.path.parent
        )
    except AlertsConfigError as e:
        raise ConfigError(str(e)) from None


def extension(config: WitnessConfig, alerts: AlertsConfig) -> Extension:
    """Alerts, then gossip if enabled, in the witness daemon's nursery."""

    async def extend(witness: Witness, nursery: trio.Nursery) -> Sequence[BaseRoute]:
        sink = await nursery.start(
            partial(
                run_alerts,
                alerts,
                outbox_path(config.database),
                source=witness.name,
                registry=witness.metrics.registry,
            )
        )
        if config.gossip is None or not config.gossip.enabled:
            witness.frozen = await frozen_logs(config.database)
            return []
        return await nursery.start(
            partial(run_gossip, witness, config.gossip, config.database, sink)
        )

    return extend
