"""`witnessnet monitor run|scan`: follow logs entry by entry and report findings (monitor/)."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from monitor.config import MonitorConfig
    from monitor.service import Monitor
    from monitor.status import MonitorStatus
    from tlog.alert import AlertSink

DESCRIPTION = """\
Follow transparency logs entry by entry: verify that the entries hash to the newest
checkpoint that meets the witness policy, parse each entry as a claim (firmware releases,
witnessnet releases, key bindings, Go checksum records, SCITT statements) and check the
configured rules. Findings go to the configured alert sinks, each exactly once; state
(cursor, rule memory, findings outbox) is in the SQLite file named by the config, and a
restart, even after kill -9, continues where the last committed batch ended.

Configuration, claim formats, rules and findings: docs/monitor.md.
"""

SCAN_EPILOG = """\
Prints one JSON line per log on stdout: {"log", "start", "end", "size", "findings", "error"}.
Exit status: 0 nothing found; 1 findings (new, or left undelivered by an earlier run and
delivered now, or an integrity finding); 2 a log could not be audited or bad configuration.
Progress: a bar on a terminal, JSON log lines on stderr otherwise.
"""

RUN_EPILOG = """\
With `listen = "HOST:PORT"` in the config it serves a status page (GET /), the findings
as JSON (GET /findings.json, one with its inclusion proof: GET /findings/<id>.json),
GET /healthz and Prometheus metrics (GET /metrics), and prints one JSON line on stdout
when listening: {"event": "listening", "url": ..., "port": ...}. A log whose verified
size does not grow for `stall_after` seconds (default 3600) raises a log-stalled warn.

Runs until SIGINT or SIGTERM (exit 0; a batch in progress is abandoned and checked again
on restart). Exit 1 when the state or alert outbox can no longer be written (the error is
in the last log line); 2 on bad configuration or a state file in use by another monitor.
"""

ALERTS_SOURCE = "witnessnet-monitor"
logger = logging.getLogger("witnessnet.monitor")

ORDER = 90


class _Setup:
    """What both actions need: the parsed config, the state store, the sinks."""

    def __init__(self, args: argparse.Namespace) -> None:
        from monitor.config import load_config
        from monitor.sinks import builtin_sink
        from monitor.store import Store
        from witnessnet.alerts import parse_alerts_config

        self.config = load_config(args.config)
        self.sinks = [builtin_sink(s) for s in self.config.sinks]
        where = f"{self.config.path}: alerts"
        table = self.config.alerts
        base = self.config.path.parent
        self.alerts = None if table is None else parse_alerts_config(dict(table), where, base=base)
        self.store = Store(self.config.state)

    @asynccontextmanager
    async def monitor(
        self, status: MonitorStatus | None = None, registry: CollectorRegistry | None = None
    ) -> AsyncIterator[Monitor]:
        """The Monitor, with the [alerts] outbox (witnessnet.alerts) running if configured;
        passes are recorded in `status` and the outbox's metrics go to `registry`."""
        from monitor.metrics import CountingProgress
        from monitor.progress import LogProgress, Progress, TerminalProgress
        from monitor.service import Monitor

        tty = sys.stderr.isatty()
        progress: Progress = TerminalProgress(sys.stderr) if tty else LogProgress()
        if status is not None:
            progress = CountingProgress(progress, status)
        async with _alerts_sink(self.config, self.alerts, registry) as extra:
            yield Monitor(self.config, self.store, [*self.sinks, *extra], progress, status)


@asynccontextmanager
async def _alerts_sink(
    config: MonitorConfig, alerts: Any, registry: CollectorRegistry | None = None
) -> AsyncIterator[Sequence[AlertSink]]:
    """The alerts outbox as a sink while the block runs; on exit, wait (at most the
    config's timeout) for the alerts that are due to be delivered."""
    import trio

    if alerts is None:
        yield ()
        return
    from prometheus_client import CollectorRegistry

    from witnessnet.alerts import run_alerts

    path = config.state.with_suffix(".alerts.db")
    registry = CollectorRegistry() if registry is None else registry
    async with trio.open_nursery() as nursery:
        start = partial(run_alerts, alerts, path, source=ALERTS_SOURCE, registry=registry)
        outbox = await nursery.start(start)
        yield (outbox,)
        with trio.move_on_after(config.timeout):
            while any(
                b.pending and b.oldest_due is not None and b.oldest_due <= time.time()
                for b in outbox.backlog().values()
            ):
                await trio.sleep(0.05)
        nursery.cancel_scope.cancel()


def _setup(args: argparse.Namespace) -> _Setup | int:
    from monitor.errors import MonitorError
    from witnessnet.alerts import AlertsConfigError
    from witnessnet.jsonlog import setup_logging

    setup_logging("warning" if sys.stderr.isatty() else "info")
    try:
        return _Setup(args)
    except (MonitorError, AlertsConfigError) as e:
        logger.error("cannot start", extra={"error": str(e)})
        return 2


def _fatal(error: BaseException) -> None:
    """Log the errors that stopped a run (state or outbox unusable) and return normally."""
    import sqlite3

    from monitor.errors import MonitorError
    from witnessnet.alerts import AlertsError
    from witnessnet.commands.log import expected_errors

    types = (MonitorError, AlertsError, sqlite3.Error, OSError)
    if isinstance(error, BaseExceptionGroup):
        errors = expected_errors(error, types)
    elif isinstance(error, types):
        errors = [error]
    else:
        raise error
    for e in errors:
        logger.error("stopped", extra={"error": f"{type(e).__name__}: {e}"})


def cmd_scan(args: argparse.Namespace) -> int:
    import trio

    setup = _setup(args)
    if isinstance(setup, int):
        return setup

    async def scan() -> Any:
        async with setup.monitor() as monitor:
            return await monitor.scan()

    try:
        report = trio.run(scan)
    except Exception as e:
        _fatal(e)
        return 2
    finally:
        setup.store.close()
    for r in report.results:
        line = {"log": r.log, "start": r.start, "end": r.end, "size": r.size,
                "findings": r.findings, "error": r.error}  # fmt: skip
        print(json.dumps(line), flush=True)
    if report.undelivered:
        logger.error("undelivered findings", extra={"count": report.undelivered})
    if report.found:
        return 1
    return 2 if report.failed or report.undelivered else 0


def cmd_run(args: argparse.Namespace) -> int:
    import trio

    setup = _setup(args)
    if isinstance(setup, int):
        return setup

    async def run() -> None:
        from prometheus_client import CollectorRegistry

        from monitor.metrics import register as register_metrics
        from monitor.status import MonitorStatus

        status = MonitorStatus(setup.config)
        registry = CollectorRegistry()
        register_metrics(registry, status, setup.config.state)
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    async for signum in signals:
                        logger.info("signal", extra={"signal": signal.Signals(signum).name})
                        nursery.cancel_scope.cancel()

            nursery.start_soon(watch)
            async with setup.monitor(status, registry) as monitor:
                if setup.config.listen is not None:
                    await _serve(nursery, setup.config, status, registry)
                await monitor.run()

    try:
        trio.run(run)
    except Exception as e:
        _fatal(e)
        return 1
    finally:
        setup.store.close()
    logger.info("stopped")
    return 0


async def _serve(
    nursery: Any, config: MonitorConfig, status: MonitorStatus, registry: CollectorRegistry
) -> None:
    """Start the HTTP server (config `listen`) in `nursery`; print where it listens."""
    import trio

    from monitor.http import create_app, serve

    assert config.listen is not None
    host, port = config.listen
    app = create_app(str(config.path), status, config.state, registry)
    binds = await nursery.start(partial(serve, app, host, port, trio.sleep_forever))
    url = binds[0]
    ready = {"event": "listening", "url": url, "port": int(url.rsplit(":", 1)[1])}
    logger.info("listening", extra={"url": url})
    print(json.dumps(ready), flush=True)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "monitor",
        help="follow logs entry by entry, check claims, report findings",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ms = p.add_subparsers(dest="monitor_command", metavar="ACTION", required=True)
    for name, func, summary, epilog in (
        ("run", cmd_run, "follow the configured logs until stopped (daemon)", RUN_EPILOG),
        ("scan", cmd_scan, "one pass over every configured log, then exit", SCAN_EPILOG),
    ):
        s = ms.add_parser(
            name,
            help=summary,
            description=DESCRIPTION,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        s.add_argument("--config", required=True, help="monitor configuration (TOML)")
        s.set_defaults(func=func)
