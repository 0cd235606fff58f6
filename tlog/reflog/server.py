"""Run the reference log: sequencer(s), the fork mirror, the cosigner, and hypercorn
listeners on trio.

``serve`` opens the log directory (and DIR/fork for the split-view drill),
starts the cosigner when witnesses are configured (for the main log only),
starts the listeners, reports their real addresses (port 0 picks a free port)
through ``on_listening``, and runs until ``stop`` is set. Then the listeners
stop taking connections and finish the requests in flight (an /add waiting
for its batch still gets its answer) before the sequencers are cancelled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import hypercorn.trio
import trio
from hypercorn.config import Config

from tlog.ct.sth import CTLogSigner
from tlog.keys import Ed25519Signer
from tlog.reflog.cosigning import Cosigner, WitnessTarget
from tlog.reflog.ct_api import CTApi
from tlog.reflog.defaults import DEFAULT_WITNESS_TIMEOUT
from tlog.reflog.fork import Mirror
from tlog.reflog.http import AddEntry, build_app
from tlog.reflog.log import TiledLog
from tlog.reflog.sequencer import Sequencer
from tlog.reflog.storage import LogDirectory

FORK_DIR = "fork"
GRACEFUL_SECONDS = 5.0


@dataclass(frozen=True)
class ServeConfig:
    """Everything `witnessnet log serve` takes; addresses are HOST:PORT."""

    directory: Path
    signer: Ed25519Signer
    origin: str
    listen: str
    batch_interval: float = 1.0
    batch_size: int = 256
    max_pending: int = 4096
    fork_at: int | None = None
    fork_listen: str | None = None
    witnesses: tuple[WitnessTarget, ...] = ()
    witness_timeout: float = DEFAULT_WITNESS_TIMEOUT
    ct_signer: CTLogSigner | None = None
    ct_max_batch: int = 64

    def __post_init__(self) -> None:
        if (self.fork_at is None) != (self.fork_listen is None):
            raise ValueError("fork_at and fork_listen go together")


def _hypercorn_config(listen: str) -> Config:
    config = Config()
    config.bind = [listen]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = GRACEFUL_SECONDS
    return config


async def _open(config: ServeConfig, directory: Path) -> Sequencer:
    store = LogDirectory(directory)
    log = await trio.to_thread.run_sync(TiledLog.open, store, config.signer, config.origin)
    return Sequencer(
        log,
        batch_interval=config.batch_interval,
        batch_size=config.batch_size,
        max_pending=config.max_pending,
    )


async def _listen(
    nursery: trio.Nursery,
    log: TiledLog,
    add: AddEntry,
    listen: str,
    stop: trio.Event,
    ct: CTApi | None = None,
) -> str:
    serve = partial(
        hypercorn.trio.serve,
        build_app(log, add, ct),
        _hypercorn_config(listen),
        shutdown_trigger=stop.wait,
    )
    binds: list[str] = await nursery.start(serve)
    return binds[0]


async def serve(
    config: ServeConfig, *, stop: trio.Event, on_listening: Callable[[dict[str, Any]], None]
) -> None:
    """Serve the log (and the fork) until stop is set."""
    main = await _open(config, config.directory)
    mirror = None
    if config.fork_at is not None:
        fork = await _open(config, config.directory / FORK_DIR)
        mirror = Mirror(main, fork, config.fork_at)
    async with httpx.AsyncClient() as http, trio.open_nursery() as background:
        background.start_soon(main.run)
        if config.witnesses:
            cosigner = Cosigner(main, config.witnesses, http, timeout=config.witness_timeout)
            background.start_soon(cosigner.run)
        if mirror is not None:
            background.start_soon(mirror.fork.run)
            background.start_soon(mirror.run)
        async with trio.open_nursery() as servers:
            ct = None
            if config.ct_signer is not None:
                ct = CTApi(main.log, config.ct_signer, config.ct_max_batch)
            event: dict[str, Any] = {
                "event": "listening",
                "url": await _listen(servers, main.log, main.add, config.listen, stop, ct),
                "origin": config.origin,
                "vkey": config.signer.vkey(),
                "size": main.published.size,
            }
            if config.ct_signer is not None:
                event["ct_vkey"] = config.ct_signer.vkey()
            if mirror is not None and config.fork_listen is not None:
                fork_url = await _listen(
                    servers, mirror.fork.log, mirror.add, config.fork_listen, stop
                )
                event.update(fork_url=fork_url, fork_at=config.fork_at)
            on_listening(event)
        background.cancel_scope.cancel()
