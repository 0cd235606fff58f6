"""What the monitor's status page and metrics show: per log and per finding.

Two sources. The passes, in memory (`MonitorStatus.record`): when each log's last
pass completed, the newest checkpoint size it chose, the last failure and its kind,
and the stall state (monitor.stall). The state database, read through a read-only
connection of its own (`read_snapshot`, `read_finding`), so that a page view or a
scrape never waits for the writer: each log's cursor and verified size, the
findings and their counts. Both are cheap: one row per log, and at most
`limit` findings.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import trio

from monitor.config import MonitorConfig
from monitor.errors import FetchError, NoCheckpointError
from monitor.follower import PassResult
from monitor.stall import Raise, Resolve, StallWatch

# The `kind` label of monitor_pass_errors_total: every kind a pass failure can have.
ERROR_KINDS = ("timeout", "network", "no_checkpoint", "fetch", "integrity", "invalid")


def error_kind(result: PassResult, error: BaseException | None) -> str | None:
    """Why a pass failed, as a metric label; None for a pass that completed."""
    if error is None:
        if result.error is None:
            return None
        return "integrity" if result.error.startswith("integrity") else "invalid"
    if isinstance(error, trio.TooSlowError | httpx.TimeoutException):
        return "timeout"
    if isinstance(error, httpx.HTTPError | OSError):
        return "network"
    if isinstance(error, NoCheckpointError):
        return "no_checkpoint"
    if isinstance(error, FetchError):
        return "fetch"
    return "invalid"


@dataclass(slots=True)
class LogStatus:
    """One log as the passes saw it."""

    name: str
    origin: str
    newest_size: int | None = None
    last_pass: float | None = None
    last_error: tuple[float, str, str] | None = None  # time, kind, message
    passes: int = 0


@dataclass(frozen=True, slots=True)
class CursorRow:
    """A log's cursor in the state: entries [0, next) checked against a tree of `size`."""

    log: str
    next: int
    size: int


@dataclass(frozen=True, slots=True)
class FindingRow:
    """A finding as stored; `body` is its JSON document (monitor.findings)."""

    id: int
    log: str
    rule: str
    index: int | None
    origin: str
    subject: str
    summary: str
    created: float
    delivered: float | None
    body: bytes


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The cursors, the newest findings (newest first), and the finding counts."""

    cursors: dict[str, CursorRow] = field(default_factory=dict)
    findings: Sequence[FindingRow] = ()
    counts: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)


def read_snapshot(path: Path, limit: int) -> Snapshot:
    """Cursors, finding counts and the `limit` newest findings (blocking: use a thread)."""
    if not path.exists():
        return Snapshot()
    with closing(_read_only(path)) as conn:
        cursors = {
            r[0]: CursorRow(r[0], r[1], r[2])
            for r in conn.execute("SELECT log, next, size FROM cursors")
        }
        counts = {
            (r[0], r[1]): r[2]
            for r in conn.execute("SELECT log, rule, COUNT(*) FROM findings GROUP BY log, rule")
        }
        rows = conn.execute(
            "SELECT id, log, rule, idx, origin, subject, summary, created, delivered, body "
            "FROM findings ORDER BY id DESC LIMIT ?",
            (limit,),
        ).fetchall()
    return Snapshot(cursors, [FindingRow(*r[:9], bytes(r[9])) for r in rows], counts)


def read_finding(path: Path, finding_id: int) -> bytes | None:
    """The JSON document of one finding (blocking: use a thread)."""
    with closing(_read_only(path)) as conn:
        row = conn.execute("SELECT body FROM findings WHERE id = ?", (finding_id,)).fetchone()
    return None if row is None else bytes(row[0])


class MonitorStatus:
    """The in-memory half of the status, updated after every pass; `entries` and `errors`
    count entries checked (by log) and failed passes (by log and kind) since start."""

    def __init__(self, config: MonitorConfig) -> None:
        self.config = config
        self.logs = {log.name: LogStatus(log.name, log.origin) for log in config.logs}
        self.stalls = StallWatch(config.stall_after)
        self.entries = dict.fromkeys(self.logs, 0)
        self.errors = {(log, kind): 0 for log in self.logs for kind in ERROR_KINDS}

    def record(
        self, result: PassResult, error: BaseException | None, now: float | None = None
    ) -> tuple[str | None, Raise | Resolve | None]:
        """Account for a pass; its error kind (None: completed) and what to do about stalls."""
        now = time.time() if now is None else now
        status = self.logs[result.log]
        kind = error_kind(result, error)
        status.passes += 1
        if kind is None:
            status.last_pass = now
            status.newest_size = result.size
        else:
            status.last_error = (now, kind, result.error or f"{type(error).__name__}: {error}")
            self.errors[(result.log, kind)] += 1
        size = result.size if kind is None else None
        return kind, self.stalls.observe(result.log, status.origin, size, now)
