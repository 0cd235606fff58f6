"""The reference log's HTTP API (an ASGI app): tlog-tiles reads and a POST /add.

- ``GET /checkpoint``: the latest published checkpoint, never cached.
- ``GET /tile/<L>/<N>[.p/<W>]`` and ``GET /tile/entries/<N>[.p/<W>]``: only
  tiles the published tree has; full ones cached for a year as immutable,
  partial ones for a minute. A partial whose full version replaced it on disk
  is cut from the full one. Entry bundles are gzip-encoded when accepted.
- ``POST /add``: the body is one entry of 1 to 65535 bytes (413 above, 400
  when empty). The answer, 200 with the entry's decimal index, comes only after
  the checkpoint that includes it is published; 503 when the log is not taking
  entries now.
"""

from __future__ import annotations

import gzip
from collections.abc import Awaitable, Callable

import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tlog.errors import TileError
from tlog.reflog.ct_api import CTApi
from tlog.reflog.errors import AddRefusedError
from tlog.reflog.log import TiledLog
from tlog.tiles import MAX_ENTRY_SIZE, TILE_WIDTH, EntriesRef, TileRef, parse_tile_path

AddEntry = Callable[[bytes], Awaitable[int]]

CHECKPOINT_TYPE = "text/plain; charset=utf-8"
TILE_TYPE = "application/octet-stream"
FULL_CACHE = "public, max-age=31536000, immutable"
PARTIAL_CACHE = "public, max-age=60"


def _read_tile(log: TiledLog, ref: TileRef | EntriesRef, gzip_ok: bool) -> bytes | None:
    data = log.read_tile(ref, log.published.size)
    if data is not None and gzip_ok:
        return gzip.compress(data, compresslevel=6)
    return data


def build_app(log: TiledLog, add: AddEntry, ct: CTApi | None = None) -> Starlette:
    """The app serving log's published state and sending POST /add bodies to add.

    With ct, it also serves the RFC 6962 read API (tlog.reflog.ct_api) over the same tree.
    """

    async def checkpoint(request: Request) -> Response:
        return Response(
            log.published.note,
            media_type=CHECKPOINT_TYPE,
            headers={"Cache-Control": "no-store"},
        )

    async def tile(request: Request) -> Response:
        try:
            ref = parse_tile_path(request.url.path.removeprefix("/"))
        except TileError as e:
            return PlainTextResponse(f"{e}\n", status_code=404)
        is_bundle = isinstance(ref, EntriesRef)
        gzip_ok = is_bundle and "gzip" in request.headers.get("accept-encoding", "")
        data = await trio.to_thread.run_sync(_read_tile, log, ref, gzip_ok)
        if data is None:
            return PlainTextResponse(
                f"{ref.path} is not in the tree of size {log.published.size}\n", status_code=404
            )
        headers = {"Cache-Control": FULL_CACHE if ref.width == TILE_WIDTH else PARTIAL_CACHE}
        if is_bundle:
            headers["Vary"] = "Accept-Encoding"
        if gzip_ok:
            headers["Content-Encoding"] = "gzip"
        return Response(data, media_type=TILE_TYPE, headers=headers)

    async def add_entry(request: Request) -> Response:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_ENTRY_SIZE:
            return _too_large()
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_ENTRY_SIZE:
                return _too_large()
        if not body:
            return PlainTextResponse("the body must be the entry: 1 to 65535 bytes\n", 400)
        try:
            index = await add(bytes(body))
        except AddRefusedError as e:
            return PlainTextResponse(f"{e}\n", 503, headers={"Retry-After": "1"})
        return PlainTextResponse(f"{index}\n")

    return Starlette(
        routes=[
            Route("/checkpoint", checkpoint, methods=["GET"]),
            Route("/tile/{path:path}", tile, methods=["GET"]),
            Route("/add", add_entry, methods=["POST"]),
            *(ct.routes() if ct is not None else []),
        ]
    )


def _too_large() -> Response:
    return PlainTextResponse(f"an entry is at most {MAX_ENTRY_SIZE} bytes\n", status_code=413)
