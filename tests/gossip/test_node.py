"""The gossip node end to end in one process: exchanges between real witnesses over the
HTTP apps, cosignature aggregation, advancing, forks, equivocation, suspicions."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest
import trio

from gossip.errors import PeerError
from gossip.evidence import Kind, verify_evidence
from gossip.messages import Checkpoints
from tests.gossip import COSIGNERS, LOG_VERIFIERS, ORIGIN, WITNESSES, checkpoint, cosign, forked
from tests.gossip.harness import Node, gossip_nodes, settle
from tlog.note import parse_note, verify_note
from witness.decide import AddCheckpointRequest, Reason, Reject

MAIN, FORK = forked(5, 40)


def cosigners(note: bytes | None) -> set[str]:
    assert note is not None
    return {s.name for s in parse_note(note).signatures} - {ORIGIN}


async def exchange(a: Node, b: Node) -> str:
    outcome = await a.gossip.exchange(b.gossip.me)
    await settle(a, b)
    return outcome


async def test_cosignatures_aggregate_and_are_served(tmp_path: Path) -> None:
    async with gossip_nodes(tmp_path, [None, None, None]) as (nodes, router):
        for n in nodes:
            await n.feed(MAIN, 20)
        assert await exchange(nodes[0], nodes[1]) == "exchanged"
        await exchange(nodes[1], nodes[2])
        await exchange(nodes[2], nodes[0])
        names = {c.name for c in COSIGNERS[:3]}
        for n in nodes:
            assert cosigners(n.view.note) == names
        assert await exchange(nodes[0], nodes[1]) == "in_sync"
        async with httpx.AsyncClient(transport=router) as http:
            resp = await http.get(
                f"http://w1.test/{hashlib.sha256(ORIGIN.encode()).hexdigest()}/checkpoint"
            )
        note = parse_note(resp.content)
        assert len(verify_note(note, WITNESSES[:3])) == 3
        verify_note(note, LOG_VERIFIERS)


async def test_newer_checkpoints_advance_with_proofs_from_tiles(tmp_path: Path) -> None:
    async with gossip_nodes(tmp_path, [MAIN, None, None]) as (nodes, _):
        await nodes[0].feed(MAIN, 30)
        await nodes[1].feed(MAIN, 10)
        await exchange(nodes[1], nodes[0])
        await exchange(nodes[2], nodes[0])
        for n in nodes:
            assert n.store.latest(ORIGIN).size == 30  # type: ignore[union-attr]
        assert cosigners(nodes[1].view.note) == {COSIGNERS[0].name, COSIGNERS[1].name}
        assert cosigners(nodes[2].view.note) >= {COSIGNERS[2].name}


async def test_same_size_fork_freezes_pages_once_and_spreads(tmp_path: Path) -> None:
    async with gossip_nodes(tmp_path, [MAIN, FORK, MAIN]) as (nodes, _):
        await nodes[0].feed(MAIN, 12)
        await nodes[1].feed(FORK, 12)
        await nodes[2].feed(MAIN, 12)
        await exchange(nodes[0], nodes[1])
        await settle(*nodes)
        for n in nodes:
            assert ORIGIN in n.state.frozen
            [held] = [h for h in n.state.held.values() if h.is_proof]
            assert held.kind == Kind.SAME_SIZE.value
            file = await n.state.read_file(held.fingerprint)
            assert file is not None
            assert verify_evidence(file, LOG_VERIFIERS).fingerprint == held.fingerprint
            assert len(n.sink.of("split-view")) == 1
        await exchange(nodes[1], nodes[2])
        await exchange(nodes[0], nodes[1])
        assert [len(n.sink.of("split-view")) for n in nodes] == [1, 1, 1]
        request = AddCheckpointRequest(12, (), checkpoint(MAIN, 12))
        outcome = await nodes[0].witness.submit(request)
        assert isinstance(outcome, Reject) and outcome.reason is Reason.FROZEN
        assert nodes[0].witness.cosigned_checkpoint(ORIGIN) is None


async def test_different_size_fork_is_proven_with_the_peers_proof(tmp_path: Path) -> None:
    async with gossip_nodes(tmp_path, [MAIN, FORK]) as (nodes, _):
        await nodes[0].feed(MAIN, 10)
        await nodes[1].feed(FORK, 13)
        await exchange(nodes[0], nodes[1])
        for n in nodes:
            [held] = [h for h in n.state.held.values() if h.is_proof]
            assert held.kind == Kind.INCONSISTENT_SIZES.value


async def test_power_of_two_fork_is_proven_by_the_larger_side(tmp_path: Path) -> None:
    async with gossip_nodes(tmp_path, [MAIN, FORK]) as (nodes, _):
        await nodes[0].feed(MAIN, 8)
        await nodes[1].feed(FORK, 11)
        await exchange(nodes[0], nodes[1])
        await settle(*nodes)
        for n in nodes:
            assert ORIGIN in n.state.frozen
            assert len(n.sink.of("split-view")) == 1


async def test_a_witness_that_cosigned_both_sides_is_caught(tmp_path: Path) -> None:
    async with gossip_nodes(tmp_path, [MAIN, FORK, MAIN]) as (nodes, _):
        await nodes[0].feed(MAIN, 12)
        await nodes[1].feed(FORK, 12)
        await nodes[2].feed(MAIN, 12)
        await exchange(nodes[0], nodes[2])
        # w2 also cosigns the fork, and says so to w1.
        forged = cosign(checkpoint(FORK, 12), COSIGNERS[2])
        await nodes[2].gossip.messenger.post(nodes[1].gossip.me, [Checkpoints((forged,))])
        assert COSIGNERS[2].name in cosigners(nodes[1].view.note)
        await exchange(nodes[0], nodes[1])
        await settle(*nodes)
        for n in nodes:
            kinds = sorted(h.kind for h in n.state.held.values())
            assert kinds == [Kind.SAME_SIZE.value, Kind.WITNESS_EQUIVOCATION.value]
            [page] = n.sink.of("witness-equivocation")
            assert page.subject == COSIGNERS[2].name
            verified = verify_evidence(page.attachment, LOG_VERIFIERS, WITNESSES)
            assert verified.witness == COSIGNERS[2].name


async def test_a_log_that_refuses_proofs_is_suspected_never_paged(tmp_path: Path) -> None:
    async with gossip_nodes(tmp_path, [None, None], proof_attempts=2) as (nodes, _):
        await nodes[0].feed(MAIN, 9)
        await nodes[1].feed(MAIN, 5)
        await exchange(nodes[1], nodes[0])
        assert not nodes[1].sink.alerts
        await exchange(nodes[1], nodes[0])
        await settle(*nodes)
        for n in nodes:
            assert [a.cls for a in n.sink.alerts] == ["warn"]
            assert n.sink.alerts[0].kind == "log-suspicion"
            assert not n.state.frozen
        assert nodes[1].store.latest(ORIGIN).size == 5  # type: ignore[union-attr]
        nodes[1].tiles.tree = MAIN
        await exchange(nodes[1], nodes[0])
        assert nodes[1].store.latest(ORIGIN).size == 9  # type: ignore[union-attr]


async def test_a_fork_refused_at_add_checkpoint_becomes_evidence(tmp_path: Path) -> None:
    async with gossip_nodes(tmp_path, [None, None]) as (nodes, _):
        await nodes[0].feed(MAIN, 12)
        body = AddCheckpointRequest(12, (), checkpoint(FORK, 12)).to_bytes()
        outcome = await nodes[0].witness.add_checkpoint(body)
        assert isinstance(outcome, Reject) and outcome.reason is Reason.FORK
        with trio.fail_after(5):
            while not await nodes[0].store.rejected(ORIGIN):
                await trio.sleep(0.01)
        await nodes[0].gossip.scan_rejected()
        await settle(*nodes)
        for n in nodes:
            assert ORIGIN in n.state.frozen
        assert nodes[0].sink.of("split-view")[0].details["source"] == "add-checkpoint"


async def test_lost_request_is_sent_again_within_the_exchange(tmp_path: Path) -> None:
    async with gossip_nodes(tmp_path, [None, None]) as (nodes, router):
        await nodes[0].feed(MAIN, 20)
        router.lose["w1.test"] = 1
        assert await exchange(nodes[0], nodes[1]) == "exchanged"
        assert nodes[1].view.size == 20
        router.lose["w1.test"] = 2
        with pytest.raises(PeerError) as e:
            await nodes[0].gossip.exchange(nodes[1].gossip.me)
        assert e.value.outcome == "unreachable"


async def test_unreachable_peer(tmp_path: Path) -> None:
    async with gossip_nodes(tmp_path, [None, None]) as (nodes, router):
        router.down.add("w1.test")
        with pytest.raises(PeerError) as e:
            await nodes[0].gossip.exchange(nodes[1].gossip.me)
        assert e.value.outcome == "unreachable"
