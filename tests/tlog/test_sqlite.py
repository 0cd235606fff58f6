"""tlog.sqlite: every state file gets the same durability settings."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tlog.sqlite import BUSY_TIMEOUT_MS, connect_readonly, connect_state

FULL = 2  # PRAGMA synchronous answers a number: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


def pragma(conn: sqlite3.Connection, name: str) -> object:
    return conn.execute(f"PRAGMA {name}").fetchone()[0]


@pytest.mark.parametrize("explicit", [False, True])
def test_state_connection_settings(tmp_path: Path, explicit: bool) -> None:
    conn = connect_state(tmp_path / "state.db", explicit_transactions=explicit)
    assert pragma(conn, "journal_mode") == "wal"
    assert pragma(conn, "synchronous") == FULL
    assert pragma(conn, "busy_timeout") == BUSY_TIMEOUT_MS
    assert pragma(conn, "foreign_keys") == 1
    assert conn.isolation_level == (None if explicit else "")
    conn.close()


def test_foreign_keys_are_enforced(tmp_path: Path) -> None:
    conn = connect_state(tmp_path / "state.db", explicit_transactions=True)
    conn.execute("CREATE TABLE a (id INTEGER PRIMARY KEY)")
    conn.execute("CREATE TABLE b (a INTEGER NOT NULL REFERENCES a (id))")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO b VALUES (1)")


def test_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not an SQLite file, but long enough to have a header" * 20)
    with pytest.raises(sqlite3.DatabaseError):
        connect_state(path)
    assert path.read_bytes().startswith(b"this is not")


@pytest.mark.parametrize("name", ["state.db", "a b.db", "what?.db", "hash#1.db", "100%.db"])
def test_readonly_reads_and_refuses_writes(tmp_path: Path, name: str) -> None:
    writer = connect_state(tmp_path / name, explicit_transactions=True)
    writer.execute("CREATE TABLE t (x)")
    writer.execute("INSERT INTO t VALUES (42)")
    reader = connect_readonly(tmp_path / name)
    assert reader.execute("SELECT x FROM t").fetchall() == [(42,)]
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.execute("INSERT INTO t VALUES (1)")
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(name)) == []


def test_readonly_does_not_create(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.OperationalError):
        connect_readonly(tmp_path / "missing.db").execute("SELECT 1 FROM sqlite_master")
    assert not (tmp_path / "missing.db").exists()
