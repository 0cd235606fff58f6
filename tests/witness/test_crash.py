"""Crash safety, by killing the real daemon: the stored state never moves backwards, and no
two cosignatures the witness ever returned are for inconsistent checkpoints.

Many concurrent clients push checkpoints of several logs, some from a forked history
signed by the same key, some with stale sizes or broken proofs, while the witness is
SIGKILLed and restarted, over and over: at random moments, and right as a cosignature
arrives (when a reply sent before its commit would be caught).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import trio

from tests.witness.helpers import WITNESS_KEY, ToyLog, write_config
from tlog.checkpoint import open_checkpoint
from tlog.cosignature import parse_cosigner_vkey
from tlog.merkle import verify_consistency
from tlog.note import Verifier, parse_note, verify_note
from witness.decide import AddCheckpointRequest

CYCLES = 22
CLIENTS = 16
TREE = 4000
FORK_AT = 300
LOGS = [ToyLog(f"example.com/crash{i}", TREE, fork_at=FORK_AT) for i in range(4)]
BY_ORIGIN = {log.origin: log for log in LOGS}


@dataclass
class Book:
    """What the clients saw: their belief of each log's stored size and every cosignature."""

    rng: random.Random
    known: dict[str, int] = field(default_factory=lambda: {log.origin: 0 for log in LOGS})
    forked: dict[str, bool] = field(default_factory=lambda: {log.origin: False for log in LOGS})
    # (origin, size, forked history?) of every checkpoint cosigned, in order received.
    cosigned: list[tuple[str, int, bool]] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    # When set, the next client to receive a 200 kills the witness at once: if a
    # cosignature ever left before its state was written, that is when it shows.
    kill_on_cosignature: trio.Process | None = None
    cosigner: Verifier = field(default_factory=lambda: parse_cosigner_vkey(WITNESS_KEY.vkey()))


def history_of(origin: str, size: int, root: bytes) -> bool:
    """True if (size, root) is on the forked history, False if on the main one."""
    log = BY_ORIGIN[origin]
    if root == log.root(size):
        return False
    assert root == log.root(size, forked=True), f"{origin} size {size}: root on no history"
    return True


def consistent(a: tuple[int, bool], b: tuple[int, bool]) -> bool:
    """Checkpoints (size, forked) of one log: is the smaller a prefix of the larger?"""
    (n, fork_a), (m, fork_b) = a, b
    return fork_a == fork_b or min(n, m) <= FORK_AT


def next_request(book: Book, log: ToyLog) -> AddCheckpointRequest:
    rng = book.rng
    old = book.known[log.origin]
    forked = book.forked[log.origin] if rng.random() > 0.25 else not book.forked[log.origin]
    size = min(TREE, old + rng.choice([0, 1, 2, 5, 20]))
    roll = rng.random()
    if roll < 0.05 and old:
        old = rng.randrange(old)  # stale
    request = log.request(old, size, forked=forked)
    if roll > 0.95 and request.proof:  # broken proof
        request = AddCheckpointRequest(old, request.proof[1:], request.note)
    return request


async def client_loop(client: httpx.AsyncClient, book: Book) -> None:
    while True:
        log = book.rng.choice(LOGS)
        request = next_request(book, log)
        try:
            response = await client.post("/add-checkpoint", content=request.to_bytes())
        except httpx.TransportError:
            await trio.sleep(0.01)  # the witness is down; the test restarts it
            continue
        book.statuses[response.status_code] = book.statuses.get(response.status_code, 0) + 1
        if response.status_code == 409:
            book.known[log.origin] = int(response.text)
        elif response.status_code == 200:
            if book.kill_on_cosignature is not None:
                book.kill_on_cosignature.send_signal(signal.SIGKILL)
            note = parse_note(request.note + response.content)
            verify_note(note, [book.cosigner])
            cp = open_checkpoint(request.note, [log.signer.verifier()]).checkpoint
            fork = history_of(log.origin, cp.size, cp.root)
            book.cosigned.append((log.origin, cp.size, fork))
            book.known[log.origin] = max(book.known[log.origin], cp.size)
            if cp.size > FORK_AT:
                book.forked[log.origin] = fork


async def start_witness(config: Path, init: bool) -> tuple[trio.Process, str]:
    argv = [sys.executable, "-m", "witnessnet", "witness", "serve", "--config", str(config)]
    with open(config.parent / "stderr.log", "ab") as stderr:
        proc = await trio.lowlevel.open_process(
            [*argv, *(["--init"] if init else [])], stdout=-1, stderr=stderr
        )
    assert proc.stdout is not None
    line = b""
    with trio.fail_after(30):
        while not line.endswith(b"\n"):
            chunk = await proc.stdout.receive_some(4096)
            assert chunk, f"witness exited: {(config.parent / 'stderr.log').read_text()}"
            line += chunk
    return proc, json.loads(line)["url"]


def stored_state(db: Path) -> dict[str, tuple[int, bytes | None]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {o: (s, r) for o, s, r in conn.execute("SELECT origin, size, root FROM logs")}
    finally:
        conn.close()


def check_history(db: Path) -> int:
    """Every stored advance continues the previous one, with a proof that verifies."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT origin, old_size, checkpoint, proof FROM history ORDER BY id")
        last: dict[str, tuple[int, bytes]] = {}
        count = 0
        for origin, old_size, note, proof in rows:
            log = BY_ORIGIN[origin]
            cp = open_checkpoint(note, [log.signer.verifier()]).checkpoint
            prev_size, prev_root = last.get(origin, (0, cp.root))
            assert old_size == prev_size, (origin, old_size, prev_size)
            hashes = [proof[i : i + 32] for i in range(0, len(proof), 32)]
            verify_consistency(prev_size, cp.size, prev_root, cp.root, hashes)
            last[origin] = (cp.size, cp.root)
            count += 1
        return count
    finally:
        conn.close()


async def test_sigkill_never_rolls_back_or_forks(tmp_path: Path) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    book = Book(random.Random(seed))
    config = write_config(tmp_path, [(log.origin, [log.vkey], None) for log in LOGS])
    db = tmp_path / "witness.db"
    stored: dict[str, tuple[int, bool]] = {log.origin: (0, False) for log in LOGS}
    for cycle in range(CYCLES):
        proc, url = await start_witness(config, init=cycle == 0)
        async with (
            httpx.AsyncClient(base_url=url, timeout=5) as client,
            trio.open_nursery() as nursery,
        ):
            for _ in range(CLIENTS):
                nursery.start_soon(client_loop, client, book)
            await trio.sleep(book.rng.uniform(0.1, 0.8))
            if cycle % 2:
                book.kill_on_cosignature = proc
                with trio.move_on_after(1):  # a backstop: a 200 normally arrives within ms
                    await proc.wait()
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            book.kill_on_cosignature = None
            nursery.cancel_scope.cancel()
        assert proc.returncode == -signal.SIGKILL
        now = stored_state(db)
        context = f"seed {seed}, cycle {cycle}"
        for origin, (size, root) in now.items():
            before = stored[origin]
            fork = history_of(origin, size, root) if root is not None else False
            assert size >= before[0], f"{origin} rolled back from {before[0]} to {size}; {context}"
            assert consistent(before, (size, fork)), f"{origin} switched history; {context}"
            stored[origin] = (size, fork)
        for origin, size, fork in book.cosigned:
            # A returned cosignature means its checkpoint (or a successor) was durable.
            assert stored[origin][0] >= size, f"{origin} {size} cosigned, not stored; {context}"
            assert consistent((size, fork), stored[origin]), (origin, size, fork, context)

    by_log: dict[str, set[tuple[int, bool]]] = {}
    for origin, size, fork in book.cosigned:
        by_log.setdefault(origin, set()).add((size, fork))
    for origin, seen in by_log.items():
        mains = [s for s, f in seen if not f and s > FORK_AT]
        forks = [s for s, f in seen if f and s > FORK_AT]
        assert not (mains and forks), f"{origin}: cosigned both {mains[:3]} and {forks[:3]}"
    assert check_history(db) > 0
    # The run did what it claims: many cosignatures, and the bad requests were refused.
    assert len(book.cosigned) > 200, book.statuses
    assert {409, 422} <= set(book.statuses), book.statuses
