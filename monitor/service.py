"""The monitor: every configured log followed by its own Follower, one store, one outbox.

``scan`` delivers whatever a previous run left in the outbox, runs one pass
per log (concurrently) and delivers the new findings. ``run`` does the same
forever, each log every ``poll_interval`` seconds, until cancelled. A pass
that fails (the log unreachable, no checkpoint meeting the policy) is logged
and retried at the next interval; it never stops the other logs.

With a MonitorStatus (``run`` in the daemon), every pass is also recorded there
for the status page and metrics, and a log whose verified size stops growing
raises a ``log-stalled`` warn through the sinks (monitor.stall).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import httpx
import trio

from monitor.config import LogConfig, MonitorConfig
from monitor.errors import MonitorError
from monitor.follower import Follower, PassResult
from monitor.outbox import Outbox
from monitor.progress import Progress
from monitor.stall import Raise, Resolve
from monitor.status import MonitorStatus
from monitor.store import Store
from tlog.alert import AlertSink
from tlog.errors import TlogError

logger = logging.getLogger("monitor")

PASS_FAILURES = (TlogError, MonitorError, httpx.HTTPError, OSError, trio.TooSlowError)


@dataclass(frozen=True, slots=True)
class ScanReport:
    """The passes of one scan, and the findings delivered and still undelivered after it."""

    results: tuple[PassResult, ...]
    delivered: int
    undelivered: int

    @property
    def found(self) -> bool:
        """Whether this scan raised or delivered any finding."""
        return self.delivered > 0 or any(r.findings for r in self.results)

    @property
    def failed(self) -> bool:
        """Whether any log could not be audited to an acceptable checkpoint."""
        return any(r.error is not None and not r.findings for r in self.results)


class Monitor:
    """Follows config.logs, recording to store and alerting through sinks."""

    def __init__(
        self,
        config: MonitorConfig,
        store: Store,
        sinks: Sequence[AlertSink],
        progress: Progress,
        status: MonitorStatus | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.outbox = Outbox(store, sinks)
        self.progress = progress
        self.status = status

    def _follower(self, log: LogConfig, http: httpx.AsyncClient) -> Follower:
        c = self.config
        return Follower(
            log, self.store, self.outbox, http, self.progress, rules=c.rules,
            batch_size=c.batch_size, connections=c.connections, timeout=c.timeout,
        )  # fmt: skip

    async def _pass(self, follower: Follower) -> PassResult:
        name = follower.log.name
        try:
            result = await follower.run_pass()
        except PASS_FAILURES as e:
            logger.warning("pass failed", extra={"log": name, "error": f"{type(e).__name__}: {e}"})
            failed = PassResult(name, 0, 0, 0, findings=0, error=f"{type(e).__name__}: {e}")
            await self._record(failed, e)
            return failed
        logger.info(
            "pass",
            extra={"log": name, "start": result.start, "end": result.end, "size": result.size,
                   "findings": result.findings, "error": result.error},
        )  # fmt: skip
        await self._record(result, None)
        return result

    async def _record(self, result: PassResult, error: BaseException | None) -> None:
        """Tell the status about a pass; raise or resolve a stall alert if it says so."""
        if self.status is None:
            return
        _, action = self.status.record(result, error)
        if isinstance(action, Raise):
            try:
                for sink in self.outbox.sinks:
                    await sink.raise_alert(action.alert)
            except Exception as e:  # a sink that failed: raised again after the next pass
                logger.error(
                    "stall alert not delivered; will retry",
                    extra={"log": action.log, "error": f"{type(e).__name__}: {e}"},
                )
                return
            logger.warning("log stalled", extra={"log": action.log, "alert": action.alert.summary})
            self.status.stalls.opened(action.log, action.alert.dedupe_key)
        elif isinstance(action, Resolve):
            logger.info("log advancing again", extra={"log": action.log})
            for sink in self.outbox.sinks:
                resolve = getattr(sink, "resolve", None)
                if resolve is not None:
                    await resolve(action.dedupe_key)

    def _http(self) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=4 * len(self.config.logs) + 4)
        return httpx.AsyncClient(timeout=self.config.timeout, limits=limits)

    async def scan(self) -> ScanReport:
        """One pass over every log; see the module docstring."""
        results: list[PassResult] = []
        async with self._http() as http:
            delivered = await self.outbox.deliver()

            async def one(log: LogConfig) -> None:
                results.append(await self._pass(self._follower(log, http)))

            async with trio.open_nursery() as nursery:
                for log in self.config.logs:
                    nursery.start_soon(one, log)
            delivered += await self.outbox.deliver()
        return ScanReport(tuple(results), delivered, await self.outbox.pending())

    async def run(self) -> None:
        """Follow every log until cancelled."""
        async with self._http() as http:
            await self.outbox.deliver()

            async def follow(log: LogConfig) -> None:
                follower = self._follower(log, http)
                while True:
                    await self._pass(follower)
                    await self.outbox.deliver()
                    await trio.sleep(self.config.poll_interval)

            async with trio.open_nursery() as nursery:
                for log in self.config.logs:
                    nursery.start_soon(follow, log)
