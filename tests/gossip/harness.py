"""Gossip nodes in one process: real witnesses, stores, gossip state and HTTP apps, wired
through an in-memory httpx transport, with log tiles faked from in-memory trees."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import trio
import trio.testing

from gossip.http import routes
from gossip.membership import parse_network
from gossip.metrics import GossipMetrics
from gossip.node import GossipNode
from gossip.reconcile import LogView
from gossip.state import GossipState
from tests.gossip import LOG, ORIGIN, WITNESS_KEYS, checkpoint
from tlog.alert import Alert
from tlog.cosignature import CosignatureV1Signer
from tlog.keys import Ed25519NoteSigner
from tlog.merkle import MemoryTree
from witness.decide import AddCheckpointRequest
from witness.registry import Registry, TrustedLog
from witness.server import create_app
from witness.service import Cosigned, Witness
from witness.store import Store


class FakeTiles:
    """The tiles of one in-memory tree (a log, or its fork), as a ProofSource; None: no tiles."""

    def __init__(self, tree: MemoryTree | None) -> None:
        self.tree = tree
        self.requests = 0

    def can_fetch(self, origin: str) -> bool:
        return self.tree is not None and origin == ORIGIN

    async def consistency(self, origin: str, old_size: int, new_size: int) -> list[bytes] | None:
        self.requests += 1
        if self.tree is None or new_size > self.tree.size:
            return None
        return self.tree.consistency_proof(old_size, new_size)

    async def prefix_root(self, origin: str, size: int, tree_size: int) -> bytes | None:
        if self.tree is None or tree_size > self.tree.size:
            return None
        return self.tree.root(size)


@dataclass
class Sink:
    """An AlertSink that keeps what it is given."""

    alerts: list[Alert] = field(default_factory=list)

    async def raise_alert(self, alert: Alert) -> None:
        self.alerts.append(alert)

    def of(self, kind: str) -> list[Alert]:
        return [a for a in self.alerts if a.kind == kind]


class Router(httpx.AsyncBaseTransport):
    """Sends each request to the ASGI app of its host."""

    def __init__(self) -> None:
        self.apps: dict[str, httpx.ASGITransport] = {}
        self.down: set[str] = set()
        self.lose: dict[str, int] = {}  # host: how many of its next requests are lost

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host in self.down or host not in self.apps:
            raise httpx.ConnectError(f"{host} is down", request=request)
        if self.lose.get(host, 0) > 0:
            self.lose[host] -= 1
            raise httpx.ConnectError(f"request to {host} lost", request=request)
        return await self.apps[host].handle_async_request(request)


@dataclass
class Node:
    """One witness with gossip, and what it raised."""

    witness: Witness
    store: Store
    state: GossipState
    gossip: GossipNode
    sink: Sink
    tiles: FakeTiles

    @property
    def view(self) -> LogView:
        return self.gossip.views[ORIGIN]

    async def feed(self, tree: MemoryTree, size: int) -> Cosigned:
        """Submit the log's checkpoint of `size` from `tree` (with a proof from the stored size)."""
        state = self.store.latest(ORIGIN)
        old = 0 if state is None else state.size
        proof = tuple(tree.consistency_proof(old, size)) if 0 < old < size else ()
        result = await self.witness.submit(AddCheckpointRequest(old, proof, checkpoint(tree, size)))
        assert isinstance(result, Cosigned), result
        return result


def network_text(count: int) -> str:
    return "".join(
        f"witness w{i} {WITNESS_KEYS[i].vkey()} http://w{i}.test/\n" for i in range(count)
    )


@asynccontextmanager
async def gossip_nodes(
    tmp_path: Path,
    tiles: Sequence[MemoryTree | None],
    *,
    proof_attempts: int = 2,
    keys: Sequence[Ed25519NoteSigner] = WITNESS_KEYS,
) -> AsyncIterator[tuple[list[Node], Router]]:
    """len(tiles) witnesses of ORIGIN gossiping in memory; node i reads tiles from tiles[i]
    and signs with keys[i] (the same public key as WITNESS_KEYS[i], e.g. in an ssh-agent).

    Only the background jobs run: tests drive the exchanges themselves.
    """
    network = parse_network(network_text(len(tiles)))
    router = Router()
    nodes: list[Node] = []
    async with httpx.AsyncClient(transport=router) as http, trio.open_nursery() as nursery:
        try:
            for i, tree in enumerate(tiles):
                store = Store.open(tmp_path / f"w{i}.db", create=True)
                await nursery.start(store.run)
                witness = Witness(CosignatureV1Signer(keys[i]), store, Registry())
                await witness.trust(
                    [TrustedLog(ORIGIN, (LOG.vkey(),), "config")], authoritative=True
                )
                state = GossipState.open(tmp_path / f"w{i}.gossip.db")
                witness.frozen = state.frozen
                sink, fake = Sink(), FakeTiles(tree)
                node = GossipNode(
                    witness,
                    network,
                    state,
                    sink,
                    http,
                    fake,
                    GossipMetrics(witness.metrics.registry, state),
                    interval=0.05,
                    timeout=2.0,
                    proof_attempts=proof_attempts,
                )
                await nursery.start(node.actions.run)
                router.apps[f"w{i}.test"] = httpx.ASGITransport(
                    app=create_app(witness, routes(node))
                )
                nodes.append(Node(witness, store, state, node, sink, fake))
            yield nodes, router
        finally:
            nursery.cancel_scope.cancel()
    for n in nodes:
        n.state.close()
        n.store.close()


async def settle(*nodes: Node) -> None:
    """Wait until no node has a background job left."""
    with trio.fail_after(10):
        while any(n.gossip.actions.busy() for n in nodes):
            await trio.sleep(0.01)
        await trio.testing.wait_all_tasks_blocked()
