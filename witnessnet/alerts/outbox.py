"""The durable alert outbox: a SQLite file that every alert passes through.

`raise_alert` stores the alert, and one delivery row for each destination that
takes its class, in one transaction (WAL, synchronous=FULL), and returns only
once that is committed: an alert the caller saw accepted survives a crash.
Alerts are keyed by `dedupe_key`: while a condition is open (not resolved), raising
it again stores nothing, across restarts too. `resolve` closes it; for a warn,
deliveries not yet accepted are cancelled, and a later raise is a new alert.

Each delivery row carries its own state (pending, delivered, failed, cancelled),
attempt count, next attempt time and last error, so one slow destination does
not hold up another. A warn's deliveries are due `warn_hold` seconds after it
was raised: that is the hysteresis. The dispatcher records an outcome only after
the destination answered, so delivery is at least once and recording exactly once.

One process at a time: a lock file beside the database keeps a second one out.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import trio

from tlog.alert import Alert, AlertClass
from tlog.lockfile import try_lock
from tlog.sqlite import connect_state
from witnessnet.alerts.errors import OutboxError, OutboxLockedError
from witnessnet.alerts.metrics import AlertMetrics, Backlog

SCHEMA_VERSION = "1"

SCHEMA = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
CREATE TABLE alerts (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    dedupe_key TEXT NOT NULL,
    class TEXT NOT NULL CHECK (class IN ('page', 'warn', 'info')),
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    summary TEXT NOT NULL,
    details TEXT NOT NULL,
    attachment BLOB NOT NULL,
    raised REAL NOT NULL,
    resolved REAL
) STRICT;
CREATE UNIQUE INDEX alerts_open ON alerts (dedupe_key) WHERE resolved IS NULL;
CREATE TABLE deliveries (
    seq INTEGER NOT NULL REFERENCES alerts (seq),
    destination TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'cancelled')),
    due REAL NOT NULL,
    next_attempt REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    finished REAL,
    PRIMARY KEY (seq, destination)
) STRICT;
CREATE INDEX deliveries_pending ON deliveries (destination, next_attempt, seq)
    WHERE state = 'pending';
"""

_NEXT = (
    "SELECT a.seq, a.id, a.class, a.kind, a.subject, a.summary, a.dedupe_key, a.details, "
    "a.attachment, a.raised, d.attempts, d.next_attempt "
    "FROM deliveries d JOIN alerts a USING (seq) "
    "WHERE d.destination = ? AND d.state = 'pending' ORDER BY d.next_attempt, d.seq LIMIT 1"
)
_BACKLOG = (
    "SELECT destination, COUNT(*), MIN(due) FROM deliveries WHERE state = 'pending' "
    "GROUP BY destination"
)

DeliveryStateName = Literal["pending", "delivered", "failed", "cancelled"]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Delivery:
    """One attempt to hand one alert to one destination.

    `id` names the alert (the same on every attempt, destination and restart);
    `attempt` counts from 1; `raised` is the POSIX time the alert was stored.
    """

    id: str
    alert: Alert
    raised: float
    destination: str
    attempt: int
    seq: int


@dataclass(frozen=True, slots=True)
class DeliveryState:
    """The recorded state of one alert's delivery to one destination."""

    id: str
    dedupe_key: str
    cls: AlertClass
    destination: str
    state: DeliveryStateName
    attempts: int
    next_attempt: float
    last_error: str | None


def _connect(path: Path) -> sqlite3.Connection:
    return connect_state(path, explicit_transactions=True)


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _lock(path: Path) -> int:
    fd = try_lock(path)
    if fd is None:
        raise OutboxLockedError(
            f"alert outbox {path} is in use by another process (lock file {path}.lock)"
        )
    return fd


def _prepare(conn: sqlite3.Connection, path: Path) -> None:
    """Create the schema in a new (empty) database; check the version of an existing one."""
    if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
        with _transaction(conn):
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema', ?), ('created', ?)",
                [SCHEMA_VERSION, str(int(time.time()))],
            )
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    version = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    if version is None or version[0] != SCHEMA_VERSION:
        raise OutboxError(f"{path}: unsupported alert outbox schema {version}")


def _delivery(row: tuple[Any, ...], destination: str) -> Delivery:
    seq, alert_id, cls, kind, subject, summary, dedupe_key, details, attachment, raised = row[:10]
    alert = Alert(cls, kind, subject, summary, dedupe_key, json.loads(details), attachment)
    return Delivery(alert_id, alert, raised, destination, row[10] + 1, seq)


class Outbox:
    """The durable outbox; an `AlertSink`. Open with `Outbox.open`, `close` when done.

    `routes` maps each destination's name to the alert classes it takes.
    """

    def __init__(
        self,
        path: Path,
        conn: sqlite3.Connection,
        lock_fd: int,
        routes: Mapping[str, Collection[AlertClass]],
        warn_hold: float,
        metrics: AlertMetrics,
    ) -> None:
        self.path = path
        self._conn = conn
        self._lock_fd = lock_fd
        self._routes = {name: frozenset(classes) for name, classes in routes.items()}
        self._warn_hold = warn_hold
        self._metrics = metrics
        self._lock = trio.Lock()
        self._wakeup = trio.Event()
        self._backlog: dict[str, Backlog] = {}
        self._refresh_backlog()

    @classmethod
    def open(
        cls,
        path: str | Path,
        routes: Mapping[str, Collection[AlertClass]],
        *,
        warn_hold: float,
        metrics: AlertMetrics,
    ) -> Outbox:
        """Open the outbox at `path`, creating it if missing. Blocking: call it from a thread.

        Deliveries already stored for a destination not in `routes` stay as they
        are, and resume if that destination is configured again.
        Raises OutboxLockedError if another process has it open, OutboxError otherwise.
        """
        path = Path(path)
        try:
            lock_fd = _lock(path)
        except OSError as e:
            raise OutboxError(f"cannot lock alert outbox {path}: {e}") from None
        conn: sqlite3.Connection | None = None
        try:
            conn = _connect(path)
            _prepare(conn, path)
            return cls(path, conn, lock_fd, routes, warn_hold, metrics)
        except BaseException as e:
            if conn is not None:
                conn.close()
            os.close(lock_fd)
            if isinstance(e, sqlite3.Error | OSError):
                raise OutboxError(f"{path} is not a usable alert outbox: {e}") from None
            raise

    def close(self) -> None:
        """Close the database and release the lock."""
        self._conn.close()
        os.close(self._lock_fd)

    def backlog(self) -> Mapping[str, Backlog]:
        """Pending deliveries per destination name, as last committed."""
        return self._backlog

    def wakeup(self) -> trio.Event:
        """An event set the next time a new alert is stored (take it before looking)."""
        return self._wakeup

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        async with self._lock:
            try:
                return await trio.to_thread.run_sync(fn, *args)
            except sqlite3.Error as e:
                raise OutboxError(f"alert outbox {self.path}: {e}") from e

    def _refresh_backlog(self) -> None:
        rows = {name: Backlog(n, due) for name, n, due in self._conn.execute(_BACKLOG)}
        self._backlog = {name: rows.get(name, Backlog(0, None)) for name in self._routes}

    async def raise_alert(self, alert: Alert) -> None:
        """Store `alert` unless its condition is already open; return once committed."""
        stored = await self._run(self._insert, alert, secrets.token_hex(16), time.time())
        counter = self._metrics.raised if stored else self._metrics.deduplicated
        counter.labels(alert.cls, alert.kind).inc()
        if stored:
            self._wakeup.set()
            self._wakeup = trio.Event()

    def _insert(self, alert: Alert, alert_id: str, now: float) -> bool:
        conn = self._conn
        with _transaction(conn):
            cursor = conn.execute(
                "INSERT OR IGNORE INTO alerts (id, dedupe_key, class, kind, subject, summary, "
                "details, attachment, raised) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    alert_id,
                    alert.dedupe_key,
                    alert.cls,
                    alert.kind,
                    alert.subject,
                    alert.summary,
                    json.dumps(dict(alert.details), sort_keys=True),
                    alert.attachment,
                    now,
                ],
            )
            if cursor.rowcount == 0:
                return False
            due = now + self._warn_hold if alert.cls == "warn" else now
            conn.executemany(
                "INSERT INTO deliveries (seq, destination, state, due, next_attempt) "
                "VALUES (?, ?, 'pending', ?, ?)",
                [
                    (cursor.lastrowid, name, due, due)
                    for name, classes in self._routes.items()
                    if alert.cls in classes
                ],
            )
        self._refresh_backlog()
        return True

    async def resolve(self, dedupe_key: str) -> bool:
        """Close the open condition `dedupe_key`; False if none was open.

        A later raise of the same key is a new alert with a new id. For a warn,
        deliveries not yet accepted are cancelled (within the hold, it is never
        delivered); page and info alerts already stored are still delivered.
        """
        found = await self._run(self._resolve, dedupe_key, time.time())
        if found is not None:
            self._metrics.resolved.labels(*found).inc()
        return found is not None

    def _resolve(self, dedupe_key: str, now: float) -> tuple[str, str] | None:
        conn = self._conn
        with _transaction(conn):
            row = conn.execute(
                "UPDATE alerts SET resolved = ? WHERE dedupe_key = ? AND resolved IS NULL "
                "RETURNING seq, class, kind",
                [now, dedupe_key],
            ).fetchone()
            if row is None:
                return None
            seq, cls, kind = row
            if cls == "warn":
                conn.execute(
                    "UPDATE deliveries SET state = 'cancelled', finished = ? "
                    "WHERE seq = ? AND state = 'pending'",
                    [now, seq],
                )
        self._refresh_backlog()
        return cls, kind

    async def next_delivery(self, destination: str) -> Delivery | float | None:
        """The earliest pending delivery to `destination` if it is due now, else the
        POSIX time it will be due, or None if nothing is pending."""
        return await self._run(self._next, destination, time.time())

    def _next(self, destination: str, now: float) -> Delivery | float | None:
        row = self._conn.execute(_NEXT, [destination]).fetchone()
        if row is None:
            return None
        next_attempt = row[11]
        return float(next_attempt) if next_attempt > now else _delivery(row, destination)

    async def delivered(self, delivery: Delivery) -> None:
        """Record that the destination accepted `delivery` (even if resolved meanwhile)."""
        await self._run(self._finish, delivery, "delivered", None, None, time.time())

    async def failed(self, delivery: Delivery, error: str, retry_at: float | None) -> None:
        """Record a failed attempt: retry at `retry_at` (POSIX time), or never if None."""
        state = "failed" if retry_at is None else "pending"
        await self._run(self._finish, delivery, state, error, retry_at, time.time())

    def _finish(
        self,
        delivery: Delivery,
        state: DeliveryStateName,
        error: str | None,
        retry_at: float | None,
        now: float,
    ) -> None:
        # An accepted delivery is recorded even if `resolve` cancelled it in flight;
        # a failure of a cancelled one changes nothing.
        allowed = "('pending', 'cancelled')" if state == "delivered" else "('pending')"
        with _transaction(self._conn):
            self._conn.execute(
                "UPDATE deliveries SET state = ?, attempts = attempts + 1, last_error = ?, "
                "next_attempt = coalesce(?, next_attempt), "
                "finished = CASE WHEN ? = 'pending' THEN NULL ELSE ? END "
                f"WHERE seq = ? AND destination = ? AND state IN {allowed}",
                [state, error, retry_at, state, now, delivery.seq, delivery.destination],
            )
        self._refresh_backlog()

    async def deliveries(self) -> list[DeliveryState]:
        """Every delivery's recorded state, oldest alert first: for operators and tests."""
        return await self._run(self._deliveries)

    def _deliveries(self) -> list[DeliveryState]:
        rows = self._conn.execute(
            "SELECT a.id, a.dedupe_key, a.class, d.destination, d.state, d.attempts, "
            "d.next_attempt, d.last_error FROM deliveries d JOIN alerts a USING (seq) "
            "ORDER BY d.seq, d.destination"
        )
        return [DeliveryState(*row) for row in rows]
