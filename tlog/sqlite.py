"""Opening a daemon's SQLite state file, with the same durability settings everywhere.

The witness store, gossip state, alert outbox and monitor state each keep one writer
connection to their own file (after taking its lock, tlog.lockfile), used from worker
threads, and read-only connections for pages. Their durability rests on the same
settings, so they are set in one place:

- WAL: readers do not block the writer, and a commit is one append to the log file;
- synchronous=FULL: a commit is fsynced before it returns, so what a witness cosigned
  or a monitor accepted survives a power cut (NORMAL could lose the last commits, and a
  witness that forgot a checkpoint could be made to cosign a rollback);
- busy_timeout 5 s: a reader holding a lock delays the writer instead of failing it;
- foreign_keys: the REFERENCES in the schemas are enforced.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

BUSY_TIMEOUT_MS = 5000


def connect_state(path: Path, *, explicit_transactions: bool = False) -> sqlite3.Connection:
    """The writer connection to the state file at `path` (created when missing).

    explicit_transactions: the caller issues BEGIN and COMMIT itself (isolation_level
    None); otherwise Python's sqlite3 opens transactions implicitly, as sqlite_utils's
    `Database.atomic()` expects. The connection may be used from any one thread at a
    time. Raises sqlite3.Error when the file is not a usable SQLite database.
    """
    conn = sqlite3.connect(
        path, isolation_level=None if explicit_transactions else "", check_same_thread=False
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        conn.close()
        raise
    return conn


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection to an existing state file, for one thread."""
    return sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)
