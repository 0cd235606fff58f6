"""Polling witness-network `logs/v0` list URLs: new logs are trusted, nothing else changes.

Each configured list URL is fetched at startup and then every
`log_list_interval` seconds (jittered). A list is read under a deadline and up
to MAX_LIST_BYTES, parsed strictly (witness.loglist), and its logs handed to
`Witness.trust(..., authoritative=False)`: origins the witness does not know are
added (and stored, so they survive the list dropping them); a list that drops a
log or names other keys for a known one changes nothing (the registry logs a
warning for a re-key). A list that cannot be fetched or parsed is counted in
`witness_log_list_errors{list, kind}`, logged, and retried sooner (RETRY_DELAY
seconds, doubling, at most the interval); the logs it added before stay trusted.
"""

from __future__ import annotations

import logging
import random

import httpx
import trio

from witness.errors import ConfigError, StoreError, WitnessError
from witness.feeder import JITTER
from witness.loglist import parse_log_list
from witness.registry import from_log_list
from witness.service import Witness

DEFAULT_INTERVAL = 3600.0
RETRY_DELAY = 30.0
FETCH_TIMEOUT = 30.0
MAX_LIST_BYTES = 16 << 20

log = logging.getLogger("witness.loglist")


class LogListFetchError(WitnessError):
    """A list URL that did not answer with a list; `kind` is the metric label."""

    def __init__(self, url: str, kind: str, message: str) -> None:
        super().__init__(f"log list {url}: {message}")
        self.kind = kind


async def fetch_log_list(http: httpx.AsyncClient, url: str) -> str:
    """The text at `url`: 200, at most MAX_LIST_BYTES, UTF-8, within FETCH_TIMEOUT seconds."""
    with trio.move_on_after(FETCH_TIMEOUT):
        try:
            async with http.stream("GET", url, timeout=FETCH_TIMEOUT) as resp:
                if resp.status_code != 200:
                    raise LogListFetchError(url, "http_status", f"HTTP {resp.status_code}")
                body = bytearray()
                async for chunk in resp.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_LIST_BYTES:
                        raise LogListFetchError(
                            url, "too_large", f"over {MAX_LIST_BYTES} bytes; not read further"
                        )
        except httpx.HTTPError as e:
            raise LogListFetchError(url, "unavailable", f"{type(e).__name__}: {e}") from None
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise LogListFetchError(url, "malformed", f"not UTF-8 at byte {e.start}") from None
    raise LogListFetchError(url, "timeout", f"no complete answer within {FETCH_TIMEOUT:g} s")


class LogListPoller:
    """Keeps the witness trusting every log `url` has listed; `run` until cancelled."""

    def __init__(
        self,
        witness: Witness,
        url: str,
        http: httpx.AsyncClient,
        *,
        interval: float = DEFAULT_INTERVAL,
        rng: random.Random | None = None,
    ) -> None:
        self.witness = witness
        self.url = url
        self.http = http
        self.interval = interval
        self._rng = rng or random.Random()

    async def run(self) -> None:
        """Poll until cancelled. Raises StoreError if the witness cannot store new logs."""
        failures = 0
        while True:
            try:
                await self.poll()
            except StoreError:
                raise
            except (LogListFetchError, ConfigError) as e:
                failures += 1
                kind = e.kind if isinstance(e, LogListFetchError) else "malformed"
                self.witness.metrics.log_list_errors.labels(self.url, kind).inc()
                log.warning(
                    "log list not usable; trusted logs unchanged",
                    extra={"list": self.url, "kind": kind, "error": str(e), "failures": failures},
                )
            else:
                failures = 0
            delay = self.interval
            if failures:
                delay = min(self.interval, RETRY_DELAY * 2 ** min(failures - 1, 16))
            await trio.sleep(delay * self._rng.uniform(1 - JITTER, 1 + JITTER))

    async def poll(self) -> None:
        """Fetch and parse the list once; trust the logs it adds."""
        entries = parse_log_list(await fetch_log_list(self.http, self.url), self.url)
        await self.witness.trust(from_log_list(entries, self.url), authoritative=False)
