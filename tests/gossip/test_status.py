"""The witness status page as gossip serves it (GET /): the cosigners of each log's latest
checkpoint, peers with the time of their last successful exchange, evidence and frozen logs."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from gossip.errors import PeerError
from gossip.status import FRESH_INTERVALS, FRESH_MIN, fresh_for
from tests.gossip import COSIGNERS, ORIGIN, forked
from tests.gossip.harness import gossip_nodes, settle

MAIN, FORK = forked(5, 40)


async def page(router: httpx.AsyncBaseTransport, host: str) -> str:
    async with httpx.AsyncClient(transport=router) as http:
        resp = await http.get(f"http://{host}/")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    return resp.text


async def test_cosigners_peers_and_evidence(tmp_path: Path) -> None:
    async with gossip_nodes(tmp_path, [MAIN, FORK, MAIN]) as (nodes, router):
        for n in nodes:
            await n.feed(MAIN, 4)  # before the fork (at 5): one history
        html = await page(router, "w0.test")
        assert f"1: {COSIGNERS[0].name}<" in html  # only itself before any exchange
        assert "0 of 2 peers fresh" in html and html.count("never reached") == 2

        await nodes[0].gossip.exchange(nodes[1].gossip.me)
        await settle(*nodes)
        html = await page(router, "w0.test")
        both = ", ".join(sorted(c.name for c in COSIGNERS[:2]))
        assert f"2: {both}<" in html
        assert "1 of 2 peers fresh" in html and "cosigning" in html
        # w1 heard from w0 (a valid message): w0 is fresh for w1 too.
        assert "1 of 2 peers fresh" in await page(router, "w1.test")

        router.down.add("w2.test")  # type: ignore[attr-defined]
        with pytest.raises(PeerError):
            await nodes[0].gossip.exchange(nodes[2].gossip.me)
        assert "w2.test is down" in await page(router, "w0.test")

        # A fork, at the same size: proof, frozen, a download link.
        await nodes[1].feed(FORK, 12)
        await nodes[0].feed(MAIN, 12)
        await nodes[0].gossip.exchange(nodes[1].gossip.me)
        await settle(*nodes)
        assert ORIGIN in nodes[0].state.frozen
        html = await page(router, "w0.test")
        (held,) = [h for h in nodes[0].state.held.values() if h.is_proof]
        assert f'href="/evidence/{held.fingerprint}"' in html
        assert "froze the log" in html and ">frozen<" in html and "1 log frozen" in html
        async with httpx.AsyncClient(transport=router) as http:
            file = await http.get(f"http://w0.test/evidence/{held.fingerprint}")
        assert file.status_code == 200 and file.content.startswith(b"witnessnet-evidence/v1")


def test_freshness_grows_with_the_network() -> None:
    assert fresh_for(0.3, 2) == FRESH_MIN
    assert fresh_for(10, 100) == FRESH_INTERVALS * 10 * 100
