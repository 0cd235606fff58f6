"""SIGKILL `witnessnet monitor scan` again and again: each entry checked once, each finding
alerted once.

The scan commits one batch of 256 entries per transaction; it is killed at random
moments (while fetching, checking, committing or alerting) and restarted until a run
completes. The durable audit trail (the `checked` table) must cover [0, size) with no
gap and no overlap, and the JSON-lines sink must hold each planted finding exactly once.
"""

from __future__ import annotations

import random
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import trio

from tests.monitor.helpers import ORIGIN, PlantedLog, findings, monitor_command, monitor_config
from witnessnet.demo.procs import log_server

KILLS = 8


def _checked(db: Path) -> int:
    """Entries checked so far, by the committed audit trail (0 before the schema exists)."""
    try:
        with closing(sqlite3.connect(db)) as conn:
            (n,) = conn.execute("SELECT coalesce(sum(end - start), 0) FROM checked").fetchone()
    except sqlite3.OperationalError:
        return 0
    return int(n)


async def test_sigkill_and_restart(tmp_path: Path, planted: PlantedLog, planted_dir: Path) -> None:
    rng = random.Random(20261129)
    state = tmp_path / "state.db"
    progress: list[int] = []
    async with log_server(planted_dir, planted_dir.parent / "log.key", ORIGIN) as log:
        config = monitor_config(tmp_path, log.url, batch_size=256)
        while True:
            before = _checked(state)
            process = await trio.lowlevel.open_process(
                monitor_command(config), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            if len(progress) < KILLS:
                # Once this run has committed a batch, kill it at a random moment soon after:
                # while it fetches, checks, commits or alerts.
                with trio.fail_after(60):
                    while process.returncode is None and _checked(state) == before:
                        await trio.sleep(0.01)
                await trio.sleep(rng.uniform(0, 0.2))
            if process.returncode is None and len(progress) < KILLS:
                process.kill()
                await process.wait()
                progress.append(_checked(state))
                continue
            with trio.fail_after(120):
                assert await process.wait() in (0, 1)
            break
    assert len(progress) == KILLS, f"the scan ended after {len(progress)} kills"
    assert progress == sorted(progress) and progress[-1] < len(planted.entries), progress

    with closing(sqlite3.connect(tmp_path / "state.db")) as db:
        ranges = db.execute("SELECT start, end FROM checked ORDER BY start").fetchall()
        undelivered = db.execute("SELECT count(*) FROM findings WHERE delivered IS NULL")
        assert undelivered.fetchone() == (0,)
    position = 0
    for start, end in ranges:
        assert start == position, f"gap or overlap at {position}: next batch is [{start}, {end})"
        position = end
    assert position == len(planted.entries)

    alerts = findings(tmp_path)
    keys = [a["dedupe_key"] for a in alerts]
    assert len(keys) == len(set(keys)), "a finding was alerted twice"
    assert {(a["kind"], a["details"]["index"]) for a in alerts} == set(planted.planted)
