"""Running gossip inside a witness daemon: the network file, the state, the node, the routes."""

from __future__ import annotations

from pathlib import Path

import httpx
import trio
from starlette.routing import BaseRoute

from gossip.errors import MembershipError
from gossip.http import routes
from gossip.membership import Network, parse_network
from gossip.metrics import GossipMetrics
from gossip.node import GossipNode, find_self
from gossip.proofs import LedgerProofs
from gossip.state import GossipState
from tlog.alert import AlertSink
from witness.config import GossipConfig
from witness.errors import ConfigError
from witness.service import Witness

LIMITS = httpx.Limits(max_connections=64, max_keepalive_connections=16)


def state_path(database: Path) -> Path:
    """Where the gossip state of the witness with this database lives: beside it."""
    return database.with_suffix(".gossip.db")


def load_network(path: Path) -> Network:
    """Read and parse the network file; raise ConfigError naming the file and line."""
    try:
        return parse_network(path.read_bytes(), str(path))
    except OSError as e:
        raise ConfigError(f"gossip.network_file: cannot read {path}: {e}") from None
    except MembershipError as e:
        raise ConfigError(str(e)) from None


async def frozen_logs(database: Path) -> frozenset[str]:
    """The logs that gossip froze in earlier runs (none if it never ran): a witness with
    gossip turned off still never cosigns them."""
    path = state_path(database)
    if not path.exists():
        return frozenset()
    state = await trio.to_thread.run_sync(GossipState.open, path)
    try:
        return frozenset(state.frozen)
    finally:
        state.close()


async def run_gossip(
    witness: Witness,
    config: GossipConfig,
    database: Path,
    sink: AlertSink,
    *,
    task_status: trio.TaskStatus[list[BaseRoute]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Gossip for `witness` until cancelled; report the HTTP routes to serve.

    Freezes cosigning (`witness.frozen`) for every log the state holds proof
    against before it reports. Raises ConfigError for an unusable network file,
    GossipStateError for an unusable state database.
    """
    network = load_network(config.network_file)
    try:
        find_self(network, witness)
    except MembershipError as e:
        raise ConfigError(f"{config.network_file}: {e}") from None
    state = await trio.to_thread.run_sync(GossipState.open, state_path(database))
    try:
        witness.frozen = state.frozen
        metrics = GossipMetrics(witness.metrics.registry, state)
        async with httpx.AsyncClient(timeout=config.timeout, limits=LIMITS) as http:
            node = GossipNode(
                witness,
                network,
                state,
                sink,
                http,
                LedgerProofs(witness.registry, http, config.timeout),
                metrics,
                interval=config.interval,
                timeout=config.timeout,
                proof_attempts=config.proof_attempts,
            )
            async with trio.open_nursery() as nursery:
                await nursery.start(node.run)
                task_status.started(routes(node))
    finally:
        state.close()
