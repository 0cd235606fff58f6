"""The bulk bundle fetcher: order, partial-bundle fallback, gzip, retries and deadlines."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import hypercorn.trio
import pytest
import trio
from hypercorn.config import Config

from monitor.bundles import BundleFetcher
from monitor.errors import FetchError
from tests.monitor.helpers import ORIGIN, build_log, static_server
from tlog.tiles import decode_entry_bundle, encode_entry_bundle
from witnessnet.demo.procs import log_server

ENTRIES = [b"entry %d" % i for i in range(1000)]
App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


async def fetch_all(fetcher: BundleFetcher, start: int, end: int, size: int) -> list[bytes]:
    out: list[bytes] = []
    async with fetcher.bundles(start, end, size) as bundles:
        async for ref, data in bundles:
            entries = decode_entry_bundle(data, ref.width)
            base = ref.index * 256
            out += [e for i, e in enumerate(entries) if start <= base + i < end]
    return out


async def test_in_order_from_the_reference_log(tmp_path: Path) -> None:
    key = build_log(tmp_path / "log", ENTRIES)
    async with log_server(tmp_path / "log", key, ORIGIN) as log:
        fetcher = BundleFetcher(log.url, connections=3, window=4)
        assert await fetch_all(fetcher, 0, 1000, 1000) == ENTRIES
        assert await fetch_all(fetcher, 300, 301, 1000) == ENTRIES[300:301]
        assert await fetch_all(fetcher, 1000, 1000, 1000) == []


async def test_partial_bundle_cut_from_the_full_one(tmp_path: Path) -> None:
    build_log(tmp_path / "log", ENTRIES[:512])
    async with static_server(tmp_path / "log") as url:
        # A tree of 300 entries has bundle 1 as the partial 001.p/44, which this log,
        # now at 512 entries, has deleted: the fetcher cuts it from the full bundle.
        assert await fetch_all(BundleFetcher(url), 0, 300, 300) == ENTRIES[:300]


@asynccontextmanager
async def serve(app: App) -> AsyncIterator[str]:
    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await app(scope, receive, send)

    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(partial(hypercorn.trio.serve, asgi, config))
        yield binds[0]
        nursery.cancel_scope.cancel()


async def respond(send: Any, status: int, body: bytes) -> None:
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def test_retries_5xx_and_gives_up(tmp_path: Path) -> None:
    bundle = encode_entry_bundle(ENTRIES[:256])
    seen: dict[str, int] = {}

    async def flaky(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen[scope["path"]] = seen.get(scope["path"], 0) + 1
        if scope["path"] == "/tile/entries/001":
            await respond(send, 500, b"always broken")
        elif seen[scope["path"]] == 1:
            await respond(send, 503, b"try again")
        else:
            await respond(send, 200, bundle)

    async with serve(flaky) as url:
        fetcher = BundleFetcher(url, retries=2, backoff=0.01)
        assert await fetch_all(fetcher, 0, 256, 256) == ENTRIES[:256]
        with pytest.raises(FetchError, match=r"tile/entries/001: HTTP 500 \(after 2 retries\)"):
            await fetch_all(fetcher, 256, 512, 512)
    assert seen["/tile/entries/000"] == 2 and seen["/tile/entries/001"] == 3


async def test_deadline_and_not_found() -> None:
    async def slow(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] == "/tile/entries/000":
            await trio.sleep(5)
        await respond(send, 404, b"no")

    async with serve(slow) as url:
        fetcher = BundleFetcher(url, timeout=0.2, retries=1, backoff=0.01)
        with pytest.raises(FetchError, match=r"no complete answer within 0\.2 s"):
            await fetch_all(fetcher, 0, 10, 10)
        with pytest.raises(FetchError, match="HTTP 404"):
            await fetch_all(fetcher, 256, 266, 266)
