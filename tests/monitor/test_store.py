"""The state database, the outbox and the sinks: atomic batches, one writer, exactly-once alerts."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from monitor.errors import StateError
from monitor.findings import Finding, integrity_finding
from monitor.outbox import Outbox
from monitor.rules import Remembered
from monitor.sinks import JsonLinesSink, StderrSink
from monitor.store import Store, Verified
from monitor.tree import Prefix
from tlog.alert import Alert
from tlog.merkle import RFC6962

LEAVES = b"".join(RFC6962.leaf(b"%d" % i) for i in range(300))


def finding(n: int) -> Finding:
    return integrity_finding("log", "example.com/log", "test", f"finding {n}", f"k{n}", {"n": n})


def test_batches_commit_atomically_and_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = Store(path)
    with pytest.raises(StateError, match="in use by another monitor"):
        Store(path)
    cursor = store.cursor("log", "example.com/log")
    prefix = Prefix()
    prefix.append_leaves(LEAVES[: 32 * 100])
    verified = Verified(b"note", 300, b"r" * 32)
    memory = {("release", "c"): Remembered("1.0.0", "ab", 7)}
    moved = store.commit_batch(cursor, prefix, verified, memory, [finding(1)])
    assert moved.next == 100
    # A stale cursor (another writer moved it) commits nothing at all.
    with pytest.raises(StateError, match="moved"):
        store.commit_batch(
            cursor, prefix, verified, {("release", "d"): memory[("release", "c")]}, [finding(2)]
        )
    store.close()

    store = Store(path)
    again = store.cursor("log", "example.com/log")
    assert (again.next, again.size, again.checkpoint) == (100, 300, b"note")
    assert again.prefix.root() == prefix.root()
    assert store.recall("log", "release", "c") == Remembered("1.0.0", "ab", 7)
    assert store.recall("log", "release", "d") is None
    assert [f.dedupe_key for _, f in store.undelivered()] == ["monitor:example.com/log:k1"]
    with pytest.raises(StateError, match="origin"):
        store.cursor("log", "example.com/other")
    store.close()


class Failing:
    calls = 0

    async def raise_alert(self, alert: Alert) -> None:
        self.calls += 1
        raise ConnectionError("sink down")


async def test_outbox_delivers_each_finding_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    store.record_findings([finding(1), finding(2)])
    store.record_findings([finding(1)])  # the same condition again: recorded once
    sink = JsonLinesSink(tmp_path / "alerts.jsonl")
    failing = Failing()
    assert await Outbox(store, [sink, failing]).deliver() == 0
    assert failing.calls == 1 and await Outbox(store, [sink]).pending() == 2
    # The first sink took finding 1 before the second failed; delivering again (as after a
    # crash) must not write it twice.
    assert await Outbox(store, [sink]).deliver() == 2
    assert await Outbox(store, [sink]).deliver() == 0
    lines = (tmp_path / "alerts.jsonl").read_text().splitlines()
    assert [json.loads(line)["finding"]["summary"] for line in lines] == ["finding 1", "finding 2"]
    store.close()


async def test_jsonl_sink_repairs_a_torn_line_and_dedupes_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    await JsonLinesSink(path).raise_alert(finding(1).alert())
    with open(path, "ab") as f:
        f.write(b'{"dedupe_key": "monitor:example.com/log:k2", "tor')
    fresh = JsonLinesSink(path)
    await fresh.raise_alert(finding(1).alert())
    await fresh.raise_alert(finding(2).alert())
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["dedupe_key"] for r in records] == [
        "monitor:example.com/log:k1", "monitor:example.com/log:k2",
    ]  # fmt: skip
    assert records[0]["class"] == "page" and records[0]["kind"] == "integrity"


async def test_stderr_sink() -> None:
    out = io.StringIO()
    sink = StderrSink(out)
    await sink.raise_alert(finding(1).alert())
    await sink.raise_alert(finding(1).alert())
    assert out.getvalue().count("\n") == 1 and "[page] integrity" in out.getvalue()
