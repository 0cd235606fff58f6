"""The monitor's durable state in SQLite: cursors, rule memory, checked ranges, findings.

One database per monitor, one writer connection (WAL, ``synchronous=FULL``:
a commit is on disk when it returns), used from worker threads one call at a
time (``run``), and a lock file so two monitors never share it. Tables:

- ``cursors``: per log, ``next`` (entries [0, next) are checked), the tree
  over them as prefix hashes, and the checkpoint they were verified against;
- ``memory``: per log, what the rules remember (latest release per component,
  first hash per module version);
- ``checked``: every committed batch [start, end) and the tree size it was
  verified against: the audit trail, which shows each entry checked once;
- ``findings``: every finding once (unique dedupe key) with ``delivered``
  set once every alert sink has accepted it: the outbox.

A batch's memory updates, findings, checked range and cursor advance are one
transaction (``commit_batch``), so after a crash an entry is either fully
checked, with its findings queued, or not checked at all.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import sqlite_utils
import trio

from monitor.errors import StateError
from monitor.findings import Finding
from monitor.rules import Remembered
from monitor.tree import Prefix
from tlog.lockfile import try_lock
from tlog.sqlite import connect_state

SCHEMA_VERSION = "1"
SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE cursors (
    log TEXT PRIMARY KEY,
    origin TEXT NOT NULL,
    next INTEGER NOT NULL DEFAULT 0 CHECK (next >= 0),
    prefix BLOB NOT NULL DEFAULT x'',
    checkpoint BLOB,
    size INTEGER NOT NULL DEFAULT 0 CHECK (size >= next),
    root BLOB
) STRICT;
CREATE TABLE memory (
    log TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    detail TEXT NOT NULL,
    idx INTEGER NOT NULL,
    PRIMARY KEY (log, kind, key)
) STRICT, WITHOUT ROWID;
CREATE TABLE checked (
    log TEXT NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL CHECK (end > start),
    size INTEGER NOT NULL,
    time REAL NOT NULL,
    PRIMARY KEY (log, start)
) STRICT;
CREATE TABLE findings (
    id INTEGER PRIMARY KEY,
    dedupe TEXT NOT NULL UNIQUE,
    log TEXT NOT NULL,
    rule TEXT NOT NULL,
    idx INTEGER,
    origin TEXT NOT NULL,
    subject TEXT NOT NULL,
    summary TEXT NOT NULL,
    body BLOB NOT NULL,
    created REAL NOT NULL,
    delivered REAL
) STRICT;
CREATE INDEX findings_undelivered ON findings (id) WHERE delivered IS NULL;
"""

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a log's audit stands: entries [0, next) checked, as verified against checkpoint."""

    log: str
    origin: str
    next: int
    prefix: Prefix
    checkpoint: bytes | None
    size: int
    root: bytes | None


@dataclass(frozen=True, slots=True)
class Verified:
    """The checkpoint a batch was verified against: its note, size and root."""

    note: bytes
    size: int
    root: bytes


class Store:
    """The state database at path (created if missing); see the module docstring."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_fd = self._lock(path)
        try:
            self.conn = self._connect(path)
        except BaseException:
            os.close(self._lock_fd)
            raise
        self._limiter = trio.CapacityLimiter(1)

    @staticmethod
    def _lock(path: Path) -> int:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = try_lock(path)
        except OSError as e:
            raise StateError(f"{path}.lock: cannot open: {e.strerror}") from None
        if fd is None:
            raise StateError(f"{path} is in use by another monitor (lock {path}.lock)")
        return fd

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        try:
            conn = connect_state(path, explicit_transactions=True)
            if "meta" not in sqlite_utils.Database(conn).table_names():
                conn.executescript(f"BEGIN; {SCHEMA} COMMIT;")
                conn.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            (version,) = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except (sqlite3.Error, TypeError) as e:
            raise StateError(f"{path}: not a usable monitor database: {e}") from None
        if version != SCHEMA_VERSION:
            raise StateError(
                f"{path}: schema version {version}, this monitor needs {SCHEMA_VERSION}"
            )
        return conn

    def close(self) -> None:
        self.conn.close()
        os.close(self._lock_fd)

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """Call a blocking method in a worker thread, one database call at a time."""
        return await trio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    def cursor(self, log: str, origin: str) -> Cursor:
        """The log's cursor (a new one at 0 if the log is new)."""
        self.conn.execute(
            "INSERT OR IGNORE INTO cursors (log, origin) VALUES (?, ?)", (log, origin)
        )
        row = self.conn.execute(
            "SELECT origin, next, prefix, checkpoint, size, root FROM cursors WHERE log = ?", (log,)
        ).fetchone()
        if row[0] != origin:
            raise StateError(
                f"{self.path}: log {log!r} was monitored with origin {row[0]!r}, now {origin!r}; "
                "give it another name or start a new state file"
            )
        return Cursor(
            log, origin, row[1], Prefix.from_bytes(row[1], row[2]), row[3], row[4], row[5]
        )

    def recall(self, log: str, kind: str, key: str) -> Remembered | None:
        row = self.conn.execute(
            "SELECT value, detail, idx FROM memory WHERE log = ? AND kind = ? AND key = ?",
            (log, kind, key),
        ).fetchone()
        return None if row is None else Remembered(*row)

    def commit_batch(
        self,
        cursor: Cursor,
        prefix: Prefix,
        verified: Verified,
        memory: Mapping[tuple[str, str], Remembered],
        findings: Iterable[Finding],
    ) -> Cursor:
        """Record one checked batch [cursor.next, prefix.size) in one transaction."""
        now = time.time()
        c = self.conn
        try:
            c.execute("BEGIN IMMEDIATE")
            moved = c.execute(
                "UPDATE cursors SET next = ?, prefix = ?, checkpoint = ?, size = ?, root = ? "
                "WHERE log = ? AND next = ?",
                (prefix.size, prefix.to_bytes(), verified.note, verified.size, verified.root,
                 cursor.log, cursor.next),
            ).rowcount  # fmt: skip
            if moved != 1:
                raise StateError(f"{self.path}: cursor of {cursor.log} moved under this monitor")
            c.executemany(
                "INSERT OR REPLACE INTO memory VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (cursor.log, k, key, r.value, r.detail, r.index)
                    for (k, key), r in memory.items()
                ],
            )
            if prefix.size > cursor.next:
                c.execute(
                    "INSERT INTO checked VALUES (?, ?, ?, ?, ?)",
                    (cursor.log, cursor.next, prefix.size, verified.size, now),
                )
            self._insert(findings, now)
            c.execute("COMMIT")
        except BaseException:
            if c.in_transaction:
                c.execute("ROLLBACK")
            raise
        return Cursor(
            cursor.log, cursor.origin, prefix.size, prefix.copy(), verified.note, verified.size,
            verified.root,
        )  # fmt: skip

    def _insert(self, findings: Iterable[Finding], now: float) -> None:
        self.conn.executemany(
            "INSERT OR IGNORE INTO findings (dedupe, log, rule, idx, origin, subject, summary, "
            "body, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(f.dedupe_key, f.log, f.rule, f.index, f.origin, f.subject, f.summary, f.body, now)
             for f in findings],
        )  # fmt: skip

    def record_findings(self, findings: Iterable[Finding]) -> None:
        """Record findings (each once, by dedupe key) outside any batch."""
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self._insert(findings, time.time())

    def undelivered(self) -> list[tuple[int, Finding]]:
        """Findings not yet accepted by every sink, oldest first."""
        rows = self.conn.execute(
            "SELECT id, rule, log, origin, idx, subject, summary, dedupe, body FROM findings "
            "WHERE delivered IS NULL ORDER BY id"
        ).fetchall()
        return [(r[0], Finding(*r[1:])) for r in rows]

    def mark_delivered(self, finding_id: int) -> None:
        self.conn.execute(
            "UPDATE findings SET delivered = ? WHERE id = ?", (time.time(), finding_id)
        )
