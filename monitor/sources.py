"""Reading checkpoint notes from a log and its other sources (witnesses, distributors)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import httpx
import trio

from tlog.note import MAX_NOTE_BYTES

logger = logging.getLogger("monitor")


def checkpoint_urls(log_url: str, extra: Sequence[str]) -> list[str]:
    """The log's own checkpoint URL (tlog-tiles: <base>/checkpoint), then the extra sources."""
    return [f"{log_url.rstrip('/')}/checkpoint", *extra]


async def _fetch(http: httpx.AsyncClient, url: str, timeout: float) -> bytes | None:
    try:
        with trio.fail_after(timeout):
            resp = await http.get(url, timeout=timeout)
    except (httpx.HTTPError, trio.TooSlowError) as e:
        logger.warning("checkpoint source failed", extra={"url": url, "error": repr(e)})
        return None
    if resp.status_code != 200 or len(resp.content) > MAX_NOTE_BYTES:
        logger.warning("checkpoint source failed", extra={"url": url, "status": resp.status_code})
        return None
    return resp.content


async def fetch_notes(
    http: httpx.AsyncClient, urls: Sequence[str], timeout: float
) -> list[tuple[str, bytes]]:
    """(url, body) of every source that answered 200 in time, fetched concurrently.

    A source that fails is logged and left out: the caller decides whether the
    others suffice (monitor.checkpoints.select_checkpoint).
    """
    bodies: dict[str, bytes] = {}

    async def one(url: str) -> None:
        body = await _fetch(http, url, timeout)
        if body is not None:
            bodies[url] = body

    async with trio.open_nursery() as nursery:
        for url in urls:
            nursery.start_soon(one, url)
    return [(url, bodies[url]) for url in urls if url in bodies]
