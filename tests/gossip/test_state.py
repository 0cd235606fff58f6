"""The gossip state database: what survives a restart, and the bounds on what it keeps."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import trio

from gossip.errors import GossipStateError
from gossip.state import (
    MAX_NOTES_PER_LOG,
    MAX_SUSPICIONS_PER_LOG,
    SEQUENCE_RESERVE,
    SUSPICION,
    GossipState,
    Held,
)


def held(fingerprint: str, kind: str = "same-size-different-roots", origin: str = "a") -> Held:
    return Held(fingerprint, origin, kind, None, "peer", 1.0)


async def open_state(path: Path) -> GossipState:
    return await trio.to_thread.run_sync(GossipState.open, path)


async def test_everything_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    state = await open_state(path)
    await state.save_seen("w1", 10)
    await state.save_seen("w1", 7)
    seq = await state.next_sequence(1000.0)
    await state.put_note("a", "a\n1\nroot\n", 1, b"note")
    assert await state.hold(held("f1"), b"file 1", freeze=True) == (True, True)
    assert await state.hold(held("f2"), b"file 2", freeze=True) == (True, False)
    assert await state.hold(held("f1"), b"again", freeze=True) == (False, False)
    state.close()

    state = await open_state(path)
    assert state.seen() == {"w1": 10}
    later = await state.next_sequence(1000.0)
    assert seq < later and later > seq + SEQUENCE_RESERVE - 1
    assert state.note("a", "a\n1\nroot\n") == b"note"
    assert sorted(state.held) == ["f1", "f2"]
    assert state.frozen["a"].fingerprint == "f1"
    assert await state.read_file("f2") == b"file 2"
    assert await state.read_file("f3") is None
    state.close()


async def test_sequence_numbers_only_grow(tmp_path: Path) -> None:
    state = await open_state(tmp_path / "g.db")
    numbers = [await state.next_sequence(5.0) for _ in range(5)]
    assert numbers == sorted(set(numbers))
    assert numbers[0] >= 5_000_000
    state.close()


async def test_notes_keep_the_largest_sizes(tmp_path: Path) -> None:
    state = await open_state(tmp_path / "g.db")
    for size in range(1, MAX_NOTES_PER_LOG + 3):
        await state.put_note("a", f"body {size}", size, f"note {size}".encode())
    await state.put_note("a", "body 0", 0, b"too old")
    state.close()
    state = await open_state(tmp_path / "g.db")
    kept = [s for s in range(MAX_NOTES_PER_LOG + 3) if state.note("a", f"body {s}")]
    assert kept == list(range(3, MAX_NOTES_PER_LOG + 3))
    state.close()


async def test_suspicions_are_bounded_and_never_freeze(tmp_path: Path) -> None:
    state = await open_state(tmp_path / "g.db")
    for i in range(MAX_SUSPICIONS_PER_LOG + 2):
        stored, frozen = await state.hold(held(f"s{i}", SUSPICION), b"s", freeze=False)
        assert stored == (i < MAX_SUSPICIONS_PER_LOG) and not frozen
    assert state.count("a", proof=False) == MAX_SUSPICIONS_PER_LOG
    assert not state.frozen
    state.close()


async def test_unusable_databases(tmp_path: Path) -> None:
    (tmp_path / "junk.db").write_bytes(b"not a database" * 100)
    with pytest.raises(GossipStateError, match="not a usable"):
        await open_state(tmp_path / "junk.db")
    path = tmp_path / "future.db"
    (await open_state(path)).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    with pytest.raises(GossipStateError, match="schema version"):
        await open_state(path)
