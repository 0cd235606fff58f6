"""Durable witness state in SQLite, written by one task with group commit.

The database holds, per log, the latest cosigned checkpoint and the keys the
witness trusts for it (`logs`), an append-only `history` of every advance with
the full log-signed checkpoint and the consistency proof that justified it, and
`rejected`: log-signed checkpoints the witness refused because they contradict
the one it cosigned (a proof that fails, or the same size with another root),
each with the proof offered and the cosigned checkpoint it contradicts. Those
are possible evidence of a misbehaving log, kept for gossip. The first
MAX_REJECTED of each log and reason are kept; exact duplicates are stored once.

Every state change is a compare-and-swap: `compare_and_swap(expected, new, advance)`
succeeds only if the stored (size, root) still equals `expected`'s. All writes
go through one writer task (`run`), which drains the queue of pending operations,
checks each CAS against the state as of the operations before it in the same
batch, and commits the whole batch in one transaction (WAL, synchronous=FULL:
one fsync). Only then are the waiters woken, so nothing is cosigned before its
state is durable. A write failure stops the writer: after a failed fsync the
state on disk is unknown, and a restart reloads it.

Reads (`latest`, `all_logs`, `registered`) come from memory, which mirrors the
committed database; `history` and `rejected` read the database. Recording a
rejection (`record_rejected`) rides in the writer's next batch and does not wait
for it: the request that was refused is not held up by its evidence.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils
import trio

from tlog.lockfile import try_lock
from tlog.sqlite import connect_readonly, connect_state
from witness.decide import Advance, LogState, Rejection
from witness.errors import DatabaseLockedError, DatabaseMissingError, StoreError

SCHEMA_VERSION = "2"
MAX_BATCH = 1024
QUEUE_SIZE = 4096
MAX_REJECTED = 100

# Version 2 added `rejected`; a version 1 database gains it on open.
REJECTED_SCHEMA = """
CREATE TABLE rejected (
    id INTEGER PRIMARY KEY,
    origin TEXT NOT NULL REFERENCES logs (origin),
    reason TEXT NOT NULL,
    old_size INTEGER NOT NULL,
    new_size INTEGER NOT NULL,
    checkpoint BLOB NOT NULL,
    proof BLOB NOT NULL,
    cosigned BLOB NOT NULL,
    time REAL NOT NULL,
    digest BLOB NOT NULL,
    UNIQUE (origin, digest)
) STRICT;
CREATE INDEX rejected_by_reason ON rejected (origin, reason);
"""

SCHEMA = (
    """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
CREATE TABLE logs (
    origin TEXT PRIMARY KEY,
    size INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0),
    root BLOB CHECK (root IS NULL OR length(root) = 32),
    checkpoint BLOB,
    updated REAL,
    vkeys TEXT NOT NULL,
    source TEXT NOT NULL,
    qpd INTEGER
) STRICT;
CREATE TABLE history (
    id INTEGER PRIMARY KEY,
    origin TEXT NOT NULL REFERENCES logs (origin),
    old_size INTEGER NOT NULL,
    new_size INTEGER NOT NULL CHECK (new_size >= old_size),
    checkpoint BLOB NOT NULL,
    proof BLOB NOT NULL,
    time REAL NOT NULL
) STRICT;
CREATE INDEX history_by_origin ON history (origin, id);
"""
    + REJECTED_SCHEMA
)


# One statement per table per batch: each statement step releases and retakes the GIL,
# and retaking it from a busy event loop costs up to a switch interval.
def _cas_sql(rows: int) -> str:
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * rows)
    return (
        "WITH v (origin, old_size, old_root, size, root, checkpoint, updated) "
        f"AS (VALUES {values}) "
        "UPDATE logs SET size = v.size, root = v.root, checkpoint = v.checkpoint, "
        "updated = v.updated FROM v "
        "WHERE logs.origin = v.origin AND logs.size = v.old_size AND logs.root IS v.old_root"
    )


def _history_sql(rows: int) -> str:
    values = ", ".join(["(?, ?, ?, ?, ?, ?)"] * rows)
    return (
        f"INSERT INTO history (origin, old_size, new_size, checkpoint, proof, time) VALUES {values}"
    )


# Kept only while the log has fewer than MAX_REJECTED rows of the same reason.
_REJECTED = (
    "INSERT OR IGNORE INTO rejected (origin, reason, old_size, new_size, checkpoint, proof, "
    "cosigned, time, digest) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? "
    "WHERE (SELECT count(*) FROM rejected WHERE origin = ? AND reason = ?) < ?"
)

_REGISTER = (
    "INSERT INTO logs (origin, vkeys, source, qpd) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (origin) DO UPDATE SET "
    "vkeys = excluded.vkeys, source = excluded.source, qpd = excluded.qpd"
)


@dataclass(frozen=True, slots=True)
class LogKeys:
    """What the witness trusts for a log: its vkeys, where they came from, its budget."""

    origin: str
    vkeys: tuple[str, ...]
    source: str
    qpd: int | None = None


@dataclass(eq=False)
class _Op:
    done: trio.Event = field(default_factory=trio.Event, init=False)
    error: BaseException | None = field(default=None, init=False)

    async def wait(self) -> None:
        await self.done.wait()
        if self.error is not None:
            raise self.error


@dataclass(eq=False)
class _Cas(_Op):
    expected: LogState
    new: LogState
    advance: Advance
    ok: bool = field(default=False, init=False)


@dataclass(eq=False)
class _Register(_Op):
    logs: tuple[LogKeys, ...]


@dataclass(eq=False)
class _Reject(_Op):
    rejection: Rejection


def _connect(path: Path) -> sqlite_utils.Database:
    return sqlite_utils.Database(connect_state(path))


def _lock(path: Path) -> int:
    fd = try_lock(path)
    if fd is None:
        raise DatabaseLockedError(
            f"{path} is in use by another witness process (lock file {path}.lock)"
        )
    return fd


def _execute_script(db: sqlite_utils.Database, script: str) -> None:
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def create_database(path: Path) -> None:
    """Create an empty witness database; refuse to touch an existing file."""
    if path.exists():
        raise StoreError(f"{path} already exists; refusing to overwrite witness state")
    try:
        db = _connect(path)
    except sqlite3.Error as e:
        raise StoreError(f"cannot create {path}: {e}") from None
    try:
        with db.atomic():
            _execute_script(db, SCHEMA)
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('schema', ?), ('created', ?)",
                [SCHEMA_VERSION, str(int(time.time()))],
            )
    finally:
        db.close()
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _state(row: dict) -> LogState:
    return LogState(row["origin"], row["size"], row["root"], row["checkpoint"], row["updated"])


def _keys(row: dict) -> LogKeys:
    vkeys = tuple(row["vkeys"].split("\n")) if row["vkeys"] else ()
    return LogKeys(row["origin"], vkeys, row["source"], row["qpd"])


def _hashes(proof: bytes) -> tuple[bytes, ...]:
    return tuple(proof[i : i + 32] for i in range(0, len(proof), 32))


def _advance(row: dict) -> Advance:
    return Advance(
        row["origin"],
        row["old_size"],
        row["new_size"],
        row["checkpoint"],
        _hashes(row["proof"]),
        row["time"],
    )


def _rejection(row: dict) -> Rejection:
    return Rejection(
        row["origin"],
        row["reason"],
        row["old_size"],
        row["new_size"],
        row["checkpoint"],
        _hashes(row["proof"]),
        row["cosigned"],
        row["time"],
    )


def _migrate(db: sqlite_utils.Database, path: Path) -> None:
    """Bring an older database to SCHEMA_VERSION, in one transaction."""
    row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    version = None if row is None else row[0]
    if version == "1":
        with db.atomic():
            _execute_script(db, REJECTED_SCHEMA)
            db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", [SCHEMA_VERSION])
    elif version != SCHEMA_VERSION:
        raise StoreError(f"{path}: unsupported schema version {version}")


class Store:
    """The witness's durable state; open with `Store.open`, keep `run` running to write."""

    def __init__(self, path: Path, db: sqlite_utils.Database, lock_fd: int) -> None:
        self.path = path
        self._db = db
        self._lock_fd = lock_fd
        self._states: dict[str, LogState] = {}
        self._keys: dict[str, LogKeys] = {}
        for row in db.query("SELECT * FROM logs"):
            self._states[row["origin"]] = _state(row)
            self._keys[row["origin"]] = _keys(row)
        self._send, self._receive = trio.open_memory_channel[_Op](QUEUE_SIZE)
        # Group commit at work: committed operations per transaction, for metrics.
        self.commits = 0
        self.committed_ops = 0

    @classmethod
    def open(cls, path: str | Path, *, create: bool = False) -> Store:
        """Open the database at `path`; create it first if `create` and it is missing.

        A missing database is an error otherwise: a witness that silently starts from
        empty state would cosign checkpoints its earlier self proved inconsistent.
        """
        path = Path(path)
        if not path.exists():
            if not create:
                raise DatabaseMissingError(
                    f"state database {path} does not exist. If this witness is new, start it "
                    "with --init (or create it with `witnessnet witness init`). If it is not "
                    "new, restore the database from backup: starting with empty state would "
                    "let logs roll back."
                )
            create_database(path)
        try:
            lock_fd = _lock(path)
        except OSError as e:
            raise StoreError(f"cannot lock {path}: {e}") from None
        try:
            db = _connect(path)
            try:
                _migrate(db, path)
                return cls(path, db, lock_fd)
            except BaseException:
                db.close()
                raise
        except sqlite3.DatabaseError as e:
            os.close(lock_fd)
            raise StoreError(f"{path} is not a usable witness database ({e})") from None
        except BaseException:
            os.close(lock_fd)
            raise

    def close(self) -> None:
        """Close the database and release the lock."""
        self._db.close()
        os.close(self._lock_fd)

    def latest(self, origin: str) -> LogState | None:
        """The committed state of a log, or None for a log never registered."""
        return self._states.get(origin)

    def all_logs(self) -> list[LogState]:
        """The committed state of every log ever registered, by origin."""
        return [self._states[o] for o in sorted(self._states)]

    def registered(self) -> list[LogKeys]:
        """The stored keys of every log ever registered, by origin."""
        return [self._keys[o] for o in sorted(self._keys)]

    async def _read(self, sql: str, params: list[object]) -> list[dict]:
        def read() -> list[dict]:
            conn = connect_readonly(self.path)
            with closing(conn):
                return list(sqlite_utils.Database(conn).query(sql, params))

        return await trio.to_thread.run_sync(read)

    async def history(self, origin: str) -> list[Advance]:
        """Every advance of a log, oldest first: the checkpoints and proofs as received."""
        rows = await self._read("SELECT * FROM history WHERE origin = ? ORDER BY id", [origin])
        return [_advance(r) for r in rows]

    async def rejected(self, origin: str) -> list[Rejection]:
        """The stored rejected checkpoints of a log, oldest first (see the module doc)."""
        rows = await self._read("SELECT * FROM rejected WHERE origin = ? ORDER BY id", [origin])
        return [_rejection(r) for r in rows]

    async def register(self, logs: Iterable[LogKeys]) -> None:
        """Create or re-key logs; a log's state is never reset. Returns once durable."""
        op = _Register(tuple(logs))
        await self._send.send(op)
        await op.wait()

    async def compare_and_swap(self, expected: LogState, new: LogState, advance: Advance) -> bool:
        """Store `new` and record `advance` iff the stored (size, root) equals `expected`'s.

        Returns once the outcome is durable: True if stored, False if the state had
        moved on (decide again against `latest`). Raises StoreError if the log is not
        registered or the write failed.
        """
        op = _Cas(expected, new, advance)
        await self._send.send(op)
        await op.wait()
        return op.ok

    async def record_rejected(self, rejection: Rejection) -> None:
        """Queue a rejected checkpoint for the next batch; returns without waiting for it.

        Kept unless its log already has MAX_REJECTED of the same reason. A write
        failure stops the writer, as for any operation.
        """
        await self._send.send(_Reject(rejection))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The writer: commit queued operations in batches, until cancelled."""
        task_status.started()
        while True:
            batch = [await self._receive.receive()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._receive.receive_nowait())
                except trio.WouldBlock:
                    break
            await self._commit(batch)

    async def _commit(self, batch: list[_Op]) -> None:
        # Check each CAS against the state left by the operations before it; write
        # each changed log once, CAS against its committed state, plus every advance.
        before: dict[str, LogState] = {}
        states: dict[str, LogState] = {}
        keys: dict[str, LogKeys] = {}
        history: list[Advance] = []
        rejections: list[Rejection] = []
        for op in batch:
            if isinstance(op, _Register):
                for k in op.logs:
                    keys[k.origin] = k
                    if k.origin not in self._states and k.origin not in states:
                        states[k.origin] = LogState(k.origin)
            elif isinstance(op, _Cas):
                origin = op.expected.origin
                current = states.get(origin) or self._states.get(origin)
                if current is None:
                    op.error = StoreError(f"log {origin!r} is not registered")
                elif (current.size, current.root) == (op.expected.size, op.expected.root):
                    op.ok = True
                    before.setdefault(origin, current)
                    states[origin] = op.new
                    history.append(op.advance)
            elif isinstance(op, _Reject):
                rejections.append(op.rejection)
        try:
            if keys or history or rejections:
                await trio.to_thread.run_sync(
                    self._write,
                    list(keys.values()),
                    [(before[o], states[o]) for o in before],
                    history,
                    rejections,
                )
                self.commits += 1
                self.committed_ops += len(batch)
        except Exception as e:
            failure = StoreError(f"writing {self.path} failed: {e}")
            for op in batch:
                op.error = op.error or failure
            raise failure from e
        except BaseException:
            for op in batch:
                op.error = op.error or StoreError("the witness is shutting down")
            raise
        else:
            self._states.update(states)
            self._keys.update(keys)
        finally:
            for op in batch:
                op.done.set()

    def _write(
        self,
        keys: list[LogKeys],
        changes: list[tuple[LogState, LogState]],
        history: list[Advance],
        rejections: list[Rejection],
    ) -> None:
        conn = self._db.conn
        # Only the statements this batch needs: each one costs the GIL round trips above.
        with self._db.atomic():
            if keys:
                conn.executemany(
                    _REGISTER, [(k.origin, "\n".join(k.vkeys), k.source, k.qpd) for k in keys]
                )
            if changes:
                params = [
                    p
                    for old, new in changes
                    for p in (
                        new.origin,
                        old.size,
                        old.root,
                        new.size,
                        new.root,
                        new.checkpoint,
                        new.updated,
                    )
                ]
                # total_changes, not rowcount: sqlite3 gives no rowcount for WITH statements.
                total = conn.total_changes
                conn.execute(_cas_sql(len(changes)), params)
                changed = conn.total_changes - total
                if changed != len(changes):
                    raise StoreError(
                        f"compare-and-swap matched {changed} of {len(changes)} logs: "
                        "the database was changed behind this witness's back"
                    )
                params = [
                    p
                    for a in history
                    for p in (
                        a.origin,
                        a.old_size,
                        a.new_size,
                        a.checkpoint,
                        b"".join(a.proof),
                        a.time,
                    )
                ]
                conn.execute(_history_sql(len(history)), params)
            if rejections:
                conn.executemany(
                    _REJECTED,
                    [
                        (
                            r.origin,
                            r.reason,
                            r.old_size,
                            r.new_size,
                            r.checkpoint,
                            b"".join(r.proof),
                            r.cosigned,
                            r.time,
                            hashlib.sha256(r.checkpoint + b"\x00" + b"".join(r.proof)).digest(),
                            r.origin,
                            r.reason,
                            MAX_REJECTED,
                        )
                        for r in rejections
                    ],
                )
