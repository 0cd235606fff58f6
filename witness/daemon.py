"""Running a witness from its config: open the state, trust the logs, start the feeders and
log list pollers, serve until told to stop."""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

import httpx
import hypercorn.config
import hypercorn.trio
import trio
from starlette.routing import BaseRoute

from witness import connguard
from witness.config import WitnessConfig
from witness.errors import ConfigError
from witness.feeder import Feeder
from witness.keysource import load_keyring
from witness.listpoller import LogListPoller
from witness.loglist import parse_log_list
from witness.registry import (
    CONFIG_SOURCE,
    Registry,
    TrustedLog,
    from_log_list,
    restore_list_logs,
)
from witness.server import create_app
from witness.service import Witness
from witness.store import Store

# Connections shared by every feeder and list poller.
PULL_LIMITS = httpx.Limits(max_connections=64, max_keepalive_connections=32)

Extension = Callable[[Witness, trio.Nursery], Awaitable[Sequence[BaseRoute]]]
"""What the product shell adds to a witness (alerts, gossip): called once the logs are
trusted and before anything can submit, it may start tasks in the daemon's nursery and
returns HTTP routes served before the witness's own."""


def read_log_list(source: str) -> list[TrustedLog]:
    """The logs of a logs/v0 list file."""
    try:
        with open(source, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"log list {source}: cannot read: {e}") from None
    return from_log_list(parse_log_list(text, source), source)


def is_url(source: str) -> bool:
    """Whether a log_lists item is a URL to poll (else a file read at startup)."""
    return urlsplit(source).scheme in ("http", "https")


async def trust_configured_logs(witness: Witness, config: WitnessConfig) -> None:
    """Config logs (authoritative), then earlier list logs, then list files (add-only).

    List URLs are fetched later, by the pollers `run_witness` starts.
    """
    await witness.trust(
        (TrustedLog(c.origin, c.vkeys, CONFIG_SOURCE, c.qpd, c.url, c.kind) for c in config.logs),
        authoritative=True,
    )
    restore_list_logs(witness.registry, witness.store.registered())
    for source in config.log_lists:
        if not is_url(source):
            await witness.trust(read_log_list(source), authoritative=False)


def start_pullers(
    nursery: trio.Nursery, witness: Witness, config: WitnessConfig, http: httpx.AsyncClient
) -> None:
    """A feeder for every trusted log with a URL, a poller for every list URL."""
    for trusted in witness.registry:
        if trusted.url is not None:
            feeder = Feeder(witness, trusted, http, interval=config.poll_interval)
            nursery.start_soon(feeder.run, name=f"feeder {trusted.origin}")
    for source in config.log_lists:
        if is_url(source):
            poller = LogListPoller(witness, source, http, interval=config.log_list_interval)
            nursery.start_soon(poller.run, name=f"log list {source}")


def hypercorn_config(config: WitnessConfig) -> hypercorn.config.Config:
    connguard.install()
    hc = hypercorn.config.Config()
    host = f"[{config.host}]" if ":" in config.host else config.host
    hc.bind = [f"{host}:{config.port}"]
    hc.accesslog = None
    hc.errorlog = logging.getLogger("hypercorn.error")
    # Slow clients (slowloris): a connection that sends nothing for read_timeout seconds is
    # dropped; hypercorn's keep-alive timer runs until a whole request head has arrived, so
    # it bounds the time to send one; a body must arrive within witness.server.BODY_TIMEOUT.
    limits = config.limits
    hc.read_timeout = math.ceil(limits.read_timeout_seconds)
    hc.keep_alive_timeout = limits.header_timeout_seconds
    hc.h11_max_incomplete_size = limits.max_header_bytes
    hc.graceful_timeout = 5
    return hc


async def run_witness(
    config: WitnessConfig,
    *,
    init: bool = False,
    shutdown_trigger: Callable[[], Awaitable[None]],
    extend: Extension | None = None,
    task_status: trio.TaskStatus[tuple[Witness, list[str]]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the witness (and what `extend` adds) until `shutdown_trigger` returns; report
    (witness, bound URLs).

    Raises ConfigError or StoreError (e.g. DatabaseMissingError unless `init`).
    """
    keyring = load_keyring(config)
    store = Store.open(config.database, create=init)
    try:
        async with httpx.AsyncClient(limits=PULL_LIMITS) as http, trio.open_nursery() as nursery:
            await nursery.start(store.run)
            witness = Witness(keyring.current, store, Registry())
            witness.keyring = keyring
            await trust_configured_logs(witness, config)
            routes = [] if extend is None else await extend(witness, nursery)
            start_pullers(nursery, witness, config, http)

            async def serve(task_status: trio.TaskStatus[list[str]]) -> None:
                await hypercorn.trio.serve(
                    create_app(witness, routes, config.limits),
                    hypercorn_config(config),
                    shutdown_trigger=shutdown_trigger,
                    task_status=task_status,
                )
                nursery.cancel_scope.cancel()

            binds = await nursery.start(serve)
            task_status.started((witness, binds))
    finally:
        store.close()
