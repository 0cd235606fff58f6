"""Gossip memory bounds: evidence over a log's maximum is refused and counted, not stored."""

from __future__ import annotations

from pathlib import Path

import trio
from prometheus_client import CollectorRegistry, generate_latest

from gossip.metrics import GossipMetrics
from gossip.state import MAX_PROOFS_PER_LOG, GossipState, Held


async def test_evidence_over_the_per_log_maximum_is_counted(tmp_path: Path) -> None:
    state = await trio.to_thread.run_sync(GossipState.open, tmp_path / "g.db")
    registry = CollectorRegistry()
    GossipMetrics(registry, state)
    try:
        extra = 3
        for i in range(MAX_PROOFS_PER_LOG + extra):
            held = Held(f"f{i}", "a", "same-size-different-roots", None, "peer", 1.0)
            stored, _ = await state.hold(held, b"file", freeze=False)
            assert stored == (i < MAX_PROOFS_PER_LOG)
        # Another log has its own allowance; a file already held is not "over the limit".
        other = Held("g0", "b", "same-size-different-roots", None, "peer", 1.0)
        assert (await state.hold(other, b"file", freeze=False))[0]
        assert not (await state.hold(other, b"file", freeze=False))[0]
        assert state.over_limit == extra
        text = generate_latest(registry).decode()
        assert f"witnessnet_gossip_evidence_over_limit_total {float(extra)}" in text
        assert len(state.held) == MAX_PROOFS_PER_LOG + 1
    finally:
        state.close()
