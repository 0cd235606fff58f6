"""Durable gossip state, in a SQLite file of its own beside the witness database.

What it holds, each bounded:

- the replay guard: the highest sequence number accepted from each sender
  (one row per network member), and a reservation of this witness's own
  sequence numbers, so that a restart never reuses one;
- aggregated cosignatures: per log, the notes of its latest checkpoints
  (by checkpoint body) with every valid cosignature known, at most
  MAX_NOTES_PER_LOG bodies per log, the largest sizes kept;
- evidence files by fingerprint (VerifiedEvidence.fingerprint), at most
  MAX_PROOFS_PER_LOG per log, and suspicion records by the SHA-256 of the
  file, at most MAX_SUSPICIONS_PER_LOG per log;
- frozen logs: origin -> the fingerprint of the evidence that froze it. A
  frozen log stays frozen: only an operator can thaw it, by deleting the row.

Every write is one transaction (WAL, synchronous=FULL) on the one writer
connection, run in a worker thread; reads come from memory, which mirrors the
committed database, except evidence files, which are read from disk when
served. Memory holds no file: only the notes and the evidence index. One
exception: a log is frozen in memory before its row commits, so that nothing of
it is cosigned meanwhile.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils
import trio

from gossip.errors import GossipStateError
from gossip.messages import next_sequence
from tlog.sqlite import connect_readonly, connect_state

SCHEMA_VERSION = "1"
MAX_NOTES_PER_LOG = 4
MAX_PROOFS_PER_LOG = 64
MAX_SUSPICIONS_PER_LOG = 16
SEQUENCE_RESERVE = 60_000_000  # one minute of the microsecond clock that sequence numbers follow
SUSPICION = "suspicion"

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE seen (sender TEXT PRIMARY KEY, seq INTEGER NOT NULL) STRICT;
CREATE TABLE notes (
    origin TEXT NOT NULL,
    body TEXT NOT NULL,
    size INTEGER NOT NULL,
    note BLOB NOT NULL,
    PRIMARY KEY (origin, body)
) STRICT;
CREATE TABLE evidence (
    fingerprint TEXT PRIMARY KEY,
    origin TEXT NOT NULL,
    kind TEXT NOT NULL,
    witness TEXT,
    source TEXT NOT NULL,
    received REAL NOT NULL,
    file BLOB NOT NULL
) STRICT;
CREATE INDEX evidence_by_origin ON evidence (origin, kind);
CREATE TABLE frozen (
    origin TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL REFERENCES evidence (fingerprint),
    time REAL NOT NULL
) STRICT;
"""


@dataclass(frozen=True, slots=True)
class Held:
    """An evidence or suspicion file this witness holds (the file itself stays on disk).

    `witness` is the equivocating witness (witness-equivocation) or the reporter
    (suspicion); `source` the peer it came from, or `self`.
    """

    fingerprint: str
    origin: str
    kind: str
    witness: str | None
    source: str
    received: float

    @property
    def is_proof(self) -> bool:
        return self.kind != SUSPICION


@dataclass(frozen=True, slots=True)
class Frozen:
    """A log frozen for cosigning, by the evidence with `fingerprint`."""

    origin: str
    fingerprint: str
    time: float


def _connect(path: Path) -> sqlite_utils.Database:
    return sqlite_utils.Database(connect_state(path))


def _create(db: sqlite_utils.Database) -> None:
    with db.atomic():
        for statement in SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute(
            "INSERT INTO meta (key, value) VALUES ('schema', ?), ('sequence', '0')",
            [SCHEMA_VERSION],
        )


class GossipState:
    """The gossip state of one witness; open with `GossipState.open`, then `close`."""

    def __init__(self, path: Path, db: sqlite_utils.Database) -> None:
        self.path = path
        self._db = db
        self._lock = trio.Lock()
        self._seen = {r["sender"]: r["seq"] for r in db.query("SELECT * FROM seen")}
        self._reserved = int(
            db.execute("SELECT value FROM meta WHERE key = 'sequence'").fetchone()[0]
        )
        self._sequence = self._reserved
        self._notes: dict[str, dict[str, tuple[int, bytes]]] = {}
        for r in db.query("SELECT origin, body, size, note FROM notes"):
            self._notes.setdefault(r["origin"], {})[r["body"]] = (r["size"], r["note"])
        self._held = {
            r["fingerprint"]: Held(
                r["fingerprint"], r["origin"], r["kind"], r["witness"], r["source"], r["received"]
            )
            for r in db.query(
                "SELECT fingerprint, origin, kind, witness, source, received FROM evidence"
            )
        }
        self._writing: set[str] = set()
        # Files refused because their log already had its maximum (a memory bound).
        self.over_limit = 0
        self._frozen = {
            r["origin"]: Frozen(r["origin"], r["fingerprint"], r["time"])
            for r in db.query("SELECT * FROM frozen")
        }

    @classmethod
    def open(cls, path: str | Path) -> GossipState:
        """Open the state at `path`, creating it if missing (blocking: call from a thread).

        The witness database's lock keeps a second process away from it.
        """
        path = Path(path)
        try:
            db = _connect(path)
            try:
                if "meta" not in db.table_names():
                    _create(db)
                version = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
                if version is None or version[0] != SCHEMA_VERSION:
                    raise GossipStateError(f"{path}: unsupported schema version {version}")
                return cls(path, db)
            except BaseException:
                db.close()
                raise
        except sqlite3.Error as e:
            raise GossipStateError(f"{path} is not a usable gossip database ({e})") from None

    def close(self) -> None:
        self._db.close()

    async def _write(self, statements: list[tuple[str, list[object]]]) -> None:
        def write() -> None:
            with self._db.atomic():
                for sql, params in statements:
                    self._db.execute(sql, params)

        async with self._lock:
            try:
                await trio.to_thread.run_sync(write)
            except sqlite3.Error as e:
                raise GossipStateError(f"writing {self.path} failed: {e}") from None

    # The replay guard.

    def seen(self) -> dict[str, int]:
        """The highest sequence number accepted from each sender."""
        return dict(self._seen)

    async def save_seen(self, sender: str, seq: int) -> None:
        """Record that `seq` from `sender` was accepted; returns once durable."""
        await self._write(
            [
                (
                    "INSERT INTO seen (sender, seq) VALUES (?, ?) ON CONFLICT (sender) "
                    "DO UPDATE SET seq = max(seq, excluded.seq)",
                    [sender, seq],
                )
            ]
        )
        self._seen[sender] = max(seq, self._seen.get(sender, 0))

    async def next_sequence(self, now: float | None = None) -> int:
        """This witness's next message sequence number, never used before, even across
        restarts: numbers are reserved a minute ahead, durably."""
        seq = next_sequence(self._sequence, time.time() if now is None else now)
        self._sequence = seq
        if seq > self._reserved:
            reserved = seq + SEQUENCE_RESERVE
            await self._write(
                [("UPDATE meta SET value = ? WHERE key = 'sequence'", [str(reserved)])]
            )
            self._reserved = max(self._reserved, reserved)
        return seq

    # Aggregated cosignatures.

    def note(self, origin: str, body: str) -> bytes | None:
        """The note of `origin`'s checkpoint `body` with every cosignature known, if stored."""
        entry = self._notes.get(origin, {}).get(body)
        return None if entry is None else entry[1]

    async def put_note(self, origin: str, body: str, size: int, note: bytes) -> None:
        """Store the aggregated note of a checkpoint; only the largest sizes of a log stay."""
        notes = dict(self._notes.get(origin, {}))
        notes[body] = (size, note)
        keep = sorted(notes, key=lambda b: notes[b][0], reverse=True)[:MAX_NOTES_PER_LOG]
        if body not in keep:
            return
        statements: list[tuple[str, list[object]]] = [
            (
                "INSERT INTO notes (origin, body, size, note) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (origin, body) DO UPDATE SET note = excluded.note",
                [origin, body, size, note],
            )
        ]
        statements += [
            ("DELETE FROM notes WHERE origin = ? AND body = ?", [origin, b])
            for b in notes
            if b not in keep
        ]
        await self._write(statements)
        self._notes[origin] = {b: notes[b] for b in keep}

    # Evidence, suspicions, frozen logs.

    @property
    def held(self) -> Mapping[str, Held]:
        """Every evidence and suspicion file held, by fingerprint."""
        return self._held

    @property
    def frozen(self) -> Mapping[str, Frozen]:
        """The frozen logs, by origin (a live view: `origin in frozen` is always current)."""
        return self._frozen

    def count(self, origin: str, *, proof: bool) -> int:
        """How many proofs (or suspicions) of `origin` are held."""
        return sum(1 for h in self._held.values() if h.origin == origin and h.is_proof == proof)

    async def hold(self, held: Held, file: bytes, *, freeze: bool) -> tuple[bool, bool]:
        """Store a file, and freeze its log if `freeze` and it is not frozen yet.

        Returns (stored, frozen now). Nothing is stored when the fingerprint is
        already held or the log has its maximum of such files.
        """
        limit = MAX_PROOFS_PER_LOG if held.is_proof else MAX_SUSPICIONS_PER_LOG
        if held.fingerprint in self._held or held.fingerprint in self._writing:
            return False, False
        if self.count(held.origin, proof=held.is_proof) >= limit:
            self.over_limit += 1
            return False, False
        freeze = freeze and held.origin not in self._frozen
        statements: list[tuple[str, list[object]]] = [
            (
                "INSERT INTO evidence (fingerprint, origin, kind, witness, source, received, file) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [held.fingerprint, held.origin, held.kind, held.witness, held.source,
                 held.received, file],
            )
        ]  # fmt: skip
        frozen = Frozen(held.origin, held.fingerprint, held.received)
        if freeze:
            # In memory first: from here on nothing of this log is cosigned.
            self._frozen[held.origin] = frozen
            statements.append(
                ("INSERT INTO frozen (origin, fingerprint, time) VALUES (?, ?, ?)",
                 [frozen.origin, frozen.fingerprint, frozen.time])
            )  # fmt: skip
        self._writing.add(held.fingerprint)
        try:
            await self._write(statements)
        except BaseException:
            if freeze:
                del self._frozen[held.origin]
            raise
        finally:
            self._writing.discard(held.fingerprint)
        self._held[held.fingerprint] = held
        return True, freeze

    async def read_file(self, fingerprint: str) -> bytes | None:
        """The file held under `fingerprint`, or None."""
        if fingerprint not in self._held:
            return None

        def read() -> bytes | None:
            conn = connect_readonly(self.path)
            with closing(conn):
                row = conn.execute(
                    "SELECT file FROM evidence WHERE fingerprint = ?", [fingerprint]
                ).fetchone()
                return None if row is None else bytes(row[0])

        return await trio.to_thread.run_sync(read)
