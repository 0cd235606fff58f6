"""The RFC 6962 read API over the reference log's tree, for tests of CT clients and monitors.

With a CT log key (ECDSA P-256), the reference log also answers:

- ``GET /ct/v1/get-sth``: the published tree signed as an RFC 6962 STH (one
  signature per published size, timestamped when first asked for);
- ``GET /ct/v1/get-sth-consistency?first=&second=``: from the log's tiles;
- ``GET /ct/v1/get-entries?start=&end=``: at most ``max_batch`` entries (so
  clients meet short answers), each entry's bytes as ``leaf_input`` and an
  empty ``extra_data`` (the reference log keeps no chains);
- ``GET /ct/v1/get-proof-by-hash?hash=&tree_size=``.

Entries POSTed to /add are logged as they are, so a CT-shaped log is one whose
entries are MerkleTreeLeaf bytes (tlog.ct.leaf.encode_leaf). The tree is the
same one the tiles serve; only the signature differs.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable

import trio
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tlog import merkle
from tlog.ct.sth import CTLogSigner, SignedTreeHead
from tlog.reflog.errors import LogStateError
from tlog.reflog.log import TiledLog
from tlog.tiles import TileHashReader, tiles_needed_for_inclusion

JSON = "application/json"
Handler = Callable[[Request], Awaitable[Response]]


class _BadRequest(Exception):
    pass


def _int(request: Request, name: str) -> int:
    value = request.query_params.get(name, "")
    if not value.isdigit():
        raise _BadRequest(f"{name} must be a non-negative decimal integer")
    return int(value)


def _json(doc: object) -> Response:
    return Response(json.dumps(doc), media_type=JSON, headers={"Cache-Control": "no-store"})


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode("ascii")


class CTApi:
    """The /ct/v1/ handlers for one log; heads signed by signer."""

    def __init__(self, log: TiledLog, signer: CTLogSigner, max_batch: int = 64) -> None:
        self.log = log
        self.signer = signer
        self.max_batch = max_batch
        self._sth: SignedTreeHead | None = None
        self._index: dict[bytes, int] = {}

    def sth(self) -> SignedTreeHead:
        published = self.log.published
        if self._sth is None or self._sth.tree_size != published.size:
            self._sth = self.signer.sign_tree_head(published.size, published.root)
        return self._sth

    def _proof_by_hash(self, leaf_hash: bytes, tree_size: int) -> tuple[int, list[bytes]] | None:
        indexed = len(self._index)
        if indexed < tree_size:
            for i, e in enumerate(self.log.read_entries(indexed, tree_size, tree_size), indexed):
                self._index.setdefault(merkle.RFC6962.leaf(e), i)
        index = self._index.get(leaf_hash)
        if index is None or index >= tree_size:
            return None
        tiles = {}
        for ref in tiles_needed_for_inclusion(index, tree_size):
            data = self.log.read_tile(ref, tree_size)
            if data is None:
                raise LogStateError(f"tile {ref.path} is missing")
            tiles[ref] = data
        reader = TileHashReader(tree_size, tiles)
        return index, merkle.inclusion_proof(index, tree_size, reader.node_hash)

    async def get_sth(self, request: Request) -> Response:
        return Response(
            self.sth().to_json(), media_type=JSON, headers={"Cache-Control": "no-store"}
        )

    async def get_sth_consistency(self, request: Request) -> Response:
        first, second = _int(request, "first"), _int(request, "second")
        size = self.log.published.size
        if not 0 < first <= second <= size:
            raise _BadRequest(f"want 0 < first <= second <= {size}")
        proof = await trio.to_thread.run_sync(self.log.consistency_proof, first, second)
        return _json({"consistency": [_b64(h) for h in proof]})

    async def get_entries(self, request: Request) -> Response:
        start, end = _int(request, "start"), _int(request, "end")
        size = self.log.published.size
        if not start <= end or start >= size:
            raise _BadRequest(f"want start <= end and start < {size}")
        stop = min(end + 1, size, start + self.max_batch)
        entries = await trio.to_thread.run_sync(self.log.read_entries, start, stop, size)
        items = [{"leaf_input": _b64(e), "extra_data": ""} for e in entries]
        return _json({"entries": items})

    async def get_proof_by_hash(self, request: Request) -> Response:
        try:
            leaf_hash = base64.b64decode(request.query_params.get("hash", ""), validate=True)
        except (binascii.Error, ValueError):
            raise _BadRequest("hash must be base64") from None
        tree_size = _int(request, "tree_size")
        if len(leaf_hash) != merkle.HASH_SIZE or not 0 < tree_size <= self.log.published.size:
            raise _BadRequest("want a 32-byte hash and a published tree_size")
        found = await trio.to_thread.run_sync(self._proof_by_hash, leaf_hash, tree_size)
        if found is None:
            return PlainTextResponse("no entry with that leaf hash\n", status_code=404)
        index, proof = found
        return _json({"leaf_index": index, "audit_path": [_b64(h) for h in proof]})

    def routes(self) -> list[Route]:
        def guarded(handler: Handler) -> Handler:
            async def run(request: Request) -> Response:
                try:
                    response: Response = await handler(request)
                except _BadRequest as e:
                    return PlainTextResponse(f"{e}\n", status_code=400)
                return response

            return run

        return [
            Route("/ct/v1/get-sth", guarded(self.get_sth), methods=["GET"]),
            Route("/ct/v1/get-sth-consistency", guarded(self.get_sth_consistency), methods=["GET"]),
            Route("/ct/v1/get-entries", guarded(self.get_entries), methods=["GET"]),
            Route("/ct/v1/get-proof-by-hash", guarded(self.get_proof_by_hash), methods=["GET"]),
        ]
