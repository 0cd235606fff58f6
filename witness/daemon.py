"""Running a witness from its config: open the state, trust the logs, serve until told to stop."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import hypercorn.config
import hypercorn.trio
import trio

from tlog.cosignature import CosignatureV1Signer
from tlog.errors import TlogError
from tlog.keys import parse_private_key
from witness.config import WitnessConfig
from witness.errors import ConfigError
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

log = logging.getLogger("witness")


def load_signer(config: WitnessConfig) -> CosignatureV1Signer:
    """The witness's cosigning key; its name must be the configured witness name."""
    try:
        key = parse_private_key(config.key_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, TlogError) as e:
        raise ConfigError(f"{config.path}: key_file: cannot use {config.key_file}: {e}") from None
    if key.name != config.name:
        raise ConfigError(
            f"{config.path}: name: {config.name!r} is not the name of the key in "
            f"{config.key_file} ({key.name!r}); cosignatures carry the key's name"
        )
    return CosignatureV1Signer(key)


def read_log_list(source: str) -> list[TrustedLog]:
    """The logs of a logs/v0 list file."""
    try:
        with open(source, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"log list {source}: cannot read: {e}") from None
    return from_log_list(parse_log_list(text, source), source)


async def trust_configured_logs(witness: Witness, config: WitnessConfig) -> None:
    """Config logs (authoritative), then earlier list logs, then list files (add-only)."""
    await witness.trust(
        (TrustedLog(c.origin, c.vkeys, CONFIG_SOURCE, c.qpd, c.tiles_url) for c in config.logs),
        authoritative=True,
    )
    pulled = [c.origin for c in config.logs if c.tiles_url]
    if pulled:
        log.warning(
            "tiles_url is not polled yet; these logs advance only by push",
            extra={"origins": pulled},
        )
    restore_list_logs(witness.registry, witness.store.registered())
    for source in config.log_lists:
        if urlsplit(source).scheme in ("http", "https"):
            log.warning("log list URLs are not fetched yet; skipping", extra={"list": source})
            continue
        await witness.trust(read_log_list(source), authoritative=False)


def hypercorn_config(config: WitnessConfig) -> hypercorn.config.Config:
    hc = hypercorn.config.Config()
    host = f"[{config.host}]" if ":" in config.host else config.host
    hc.bind = [f"{host}:{config.port}"]
    hc.accesslog = None
    hc.errorlog = logging.getLogger("hypercorn.error")
    # Slow clients: a connection that sends nothing for read_timeout seconds is dropped;
    # a body must arrive within witness.server.BODY_TIMEOUT.
    hc.read_timeout = 30
    hc.keep_alive_timeout = 30
    hc.graceful_timeout = 5
    return hc


async def run_witness(
    config: WitnessConfig,
    *,
    init: bool = False,
    shutdown_trigger: Callable[[], Awaitable[None]],
    task_status: trio.TaskStatus[tuple[Witness, list[str]]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the witness until `shutdown_trigger` returns; report (witness, bound URLs).

    Raises ConfigError or StoreError (e.g. DatabaseMissingError unless `init`).
    """
    signer = load_signer(config)
    store = Store.open(config.database, create=init)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(store.run)
            witness = Witness(signer, store, Registry())
            await trust_configured_logs(witness, config)

            async def serve(task_status: trio.TaskStatus[list[str]]) -> None:
                await hypercorn.trio.serve(
                    create_app(witness),
                    hypercorn_config(config),
                    shutdown_trigger=shutdown_trigger,
                    task_status=task_status,
                )
                nursery.cancel_scope.cancel()

            binds = await nursery.start(serve)
            task_status.started((witness, binds))
    finally:
        store.close()
