"""The monitor's built-in alert sinks: a JSON-lines file and stderr.

Both implement tlog.alert.AlertSink. The JSON-lines sink is durable and
idempotent: ``raise_alert`` returns once the line is fsynced, and an alert
whose dedupe key is already in the file is not written again, so the
monitor's outbox (which re-sends whatever it had not marked delivered when it
was killed) never makes a duplicate line. A line torn by a crash is removed
when the file is next opened. The stderr sink dedupes within the process.

Other sink types (webhooks) come from the product shell: the caller passes a
factory from SinkConfig to AlertSink; ``builtin_sink`` is the default one.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import trio

from monitor.config import SinkConfig
from tlog.alert import Alert, AlertSink

SinkFactory = Callable[[SinkConfig], AlertSink]


def alert_record(alert: Alert) -> dict[str, Any]:
    """An alert as a JSON object; a JSON attachment is embedded as `finding`."""
    record: dict[str, Any] = {
        "time": round(time.time(), 3),
        "class": alert.cls,
        "kind": alert.kind,
        "subject": alert.subject,
        "summary": alert.summary,
        "dedupe_key": alert.dedupe_key,
        "details": dict(alert.details),
    }
    if alert.attachment:
        try:
            record["finding"] = json.loads(alert.attachment)
        except ValueError:
            record["attachment"] = base64.b64encode(alert.attachment).decode("ascii")
    return record


class JsonLinesSink:
    """Appends one JSON object per alert to path (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._keys: set[str] | None = None

    def _load(self) -> set[str]:
        keys: set[str] = set()
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return keys
        if data and not data.endswith(b"\n"):
            with open(self.path, "r+b") as f:
                f.truncate(data.rfind(b"\n") + 1)
                os.fsync(f.fileno())
        for line in data.splitlines()[: data.count(b"\n")]:
            try:
                keys.add(json.loads(line)["dedupe_key"])
            except (ValueError, KeyError, TypeError):
                continue
        return keys

    def _write(self, alert: Alert) -> None:
        if self._keys is None:
            self._keys = self._load()
        if alert.dedupe_key in self._keys:
            return
        line = json.dumps(alert_record(alert), sort_keys=True).encode("utf-8") + b"\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        self._keys.add(alert.dedupe_key)

    async def raise_alert(self, alert: Alert) -> None:
        await trio.to_thread.run_sync(self._write, alert)


class StderrSink:
    """One human-readable line per alert on stream (stderr)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self._seen: set[str] = set()

    async def raise_alert(self, alert: Alert) -> None:
        if alert.dedupe_key in self._seen:
            return
        self._seen.add(alert.dedupe_key)
        stream = self.stream or sys.stderr
        print(f"ALERT [{alert.cls}] {alert.kind}: {alert.summary}", file=stream, flush=True)


def builtin_sink(config: SinkConfig) -> AlertSink:
    """The sink for a [[sinks]] table of type jsonl (key: path) or stderr."""
    if config.type == "jsonl":
        unknown = set(config.options) - {"path"}
        if unknown:
            raise config.error(f"unknown key(s) {', '.join(sorted(unknown))}; jsonl takes: path")
        return JsonLinesSink(config.path("path"))
    if config.type == "stderr":
        if config.options:
            raise config.error("stderr takes no options")
        return StderrSink()
    raise config.error(f"unknown sink type {config.type!r} (built in: jsonl, stderr)")
