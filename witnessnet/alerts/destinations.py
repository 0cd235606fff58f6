"""Where alerts go: a structured JSON log line and webhooks.

A destination's `deliver` returns once the destination accepted the alert, raises
DeliveryError to be retried later, or PermanentDeliveryError to give up. `name`
keys the delivery state in the outbox (so it must stay stable across restarts);
`label` names it in metrics (a webhook's label drops credentials and the query);
`classes` are the alert classes it takes: info alerts never go to a webhook.
(Prometheus counters are not a destination: `AlertMetrics` counts every alert.)
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import httpx
import trio

from tlog.alert import ALERT_CLASSES, AlertClass
from witnessnet.alerts.config import AlertsConfig
from witnessnet.alerts.errors import DeliveryError, PermanentDeliveryError
from witnessnet.alerts.outbox import Delivery
from witnessnet.alerts.payload import log_record, payload

USER_AGENT = "witnessnet-alerts/1"


class Destination(Protocol):
    """Somewhere alerts go; see the module docstring."""

    name: str
    label: str
    classes: frozenset[AlertClass]

    async def deliver(self, delivery: Delivery) -> None: ...


class LogDestination:
    """One JSON object per line (`log_record`), appended to a file or written to stderr.

    Accepted once written and flushed; a file is opened for each line (so log
    rotation needs no signal) and fsynced before the delivery counts.
    """

    name = "log"
    label = "log"
    classes: frozenset[AlertClass] = frozenset(ALERT_CLASSES)

    def __init__(self, source: str, path: Path | None = None) -> None:
        self._source = source
        self._path = path

    async def deliver(self, delivery: Delivery) -> None:
        line = json.dumps(log_record(delivery, self._source), sort_keys=True) + "\n"
        try:
            await trio.to_thread.run_sync(self._write, line)
        except OSError as e:
            raise DeliveryError(f"writing {self._path or 'stderr'}: {e}") from None

    def _write(self, line: str) -> None:
        if self._path is None:
            sys.stderr.write(line)
            sys.stderr.flush()
            return
        with open(self._path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdecimal() else None


class WebhookDestination:
    """POST `payload` as JSON, with the alert id as `Idempotency-Key`; 2xx is accepted.

    3xx and 4xx other than 408 and 429 are permanent failures; other statuses,
    connection errors and no complete answer within `timeout` seconds are retried.
    """

    classes: frozenset[AlertClass] = frozenset({"page", "warn"})

    def __init__(self, url: str, client: httpx.AsyncClient, source: str, timeout: float) -> None:
        parts = urlsplit(url)
        self.name = url
        self.label = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"
        self._client = client
        self._source = source
        self._timeout = timeout

    async def deliver(self, delivery: Delivery) -> None:
        body = json.dumps(payload(delivery, self._source), sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": delivery.id,
            "User-Agent": USER_AGENT,
        }
        try:
            with trio.fail_after(self._timeout):
                response = await self._client.post(
                    self.name, content=body, headers=headers, timeout=self._timeout
                )
        except trio.TooSlowError:
            raise DeliveryError(f"no complete answer within {self._timeout:g}s") from None
        except httpx.HTTPError as e:
            raise DeliveryError(f"{type(e).__name__}: {e}") from None
        status = response.status_code
        if 200 <= status < 300:
            return
        problem = f"HTTP {status}: {response.text[:200]}"
        if 300 <= status < 500 and status not in (408, 429):
            raise PermanentDeliveryError(problem)
        raise DeliveryError(problem, retry_after=_retry_after(response))


def build_destinations(
    config: AlertsConfig, client: httpx.AsyncClient, source: str
) -> Sequence[Destination]:
    """The log (stderr or `config.log_file`) and one destination per configured webhook."""
    webhooks = [
        WebhookDestination(u, client, source, config.webhook_timeout) for u in config.webhooks
    ]
    return [LogDestination(source, config.log_file), *webhooks]
