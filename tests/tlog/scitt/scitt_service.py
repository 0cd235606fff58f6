"""A local SCITT service for tests: the read API of tlog.scitt.source over an RFC 9162 tree.

Entries are signed statements; every receipt is signed by the service's real key
when asked for, so what a client reads is exactly what a service would serve.
Set `fork` to serve heads of another tree (a split view) to test detection.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.tlog.scitt import builders as b
from tlog.merkle import RFC6962, MemoryTree

COSE = "application/cose"


@dataclass
class ScittService:
    signer: b.Signer
    entries: list[bytes] = field(default_factory=list)
    tree: MemoryTree = field(default_factory=MemoryTree)
    tamper_head: bool = False
    shrink_consistency: bool = False
    url: str = ""

    def register(self, statement: bytes) -> int:
        self.entries.append(statement)
        self.tree.append(RFC6962.leaf(statement))
        return len(self.entries) - 1

    def _cose(self, body: bytes) -> Response:
        return Response(body, media_type=COSE)

    async def head(self, request: Request) -> Response:
        size = self.tree.size
        if not size:
            return Response(b"empty log", 404)
        receipt = b.rfc9162_inclusion_receipt(self.signer, self.tree, size - 1, size)
        if self.tamper_head:
            receipt = receipt[:-1] + bytes([receipt[-1] ^ 1])
        return self._cose(receipt)

    async def entry(self, request: Request) -> Response:
        i = int(request.path_params["i"])
        if not 0 <= i < len(self.entries):
            return Response(b"no such entry", 404)
        return self._cose(self.entries[i])

    async def receipt(self, request: Request) -> Response:
        i = int(request.path_params["i"])
        size = int(request.query_params.get("tree_size", self.tree.size))
        if not 0 <= i < size <= self.tree.size:
            return Response(b"no such entry at that size", 404)
        return self._cose(b.rfc9162_inclusion_receipt(self.signer, self.tree, i, size))

    async def consistency(self, request: Request) -> Response:
        m, n = int(request.path_params["m"]), int(request.path_params["n"])
        n -= self.shrink_consistency
        if not 0 < m < n <= self.tree.size:
            return Response(b"bad sizes", 400)
        return self._cose(b.rfc9162_consistency_receipt(self.signer, self.tree, m, n))

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/head", self.head),
                Route("/entries/{i:int}", self.entry),
                Route("/entries/{i:int}/receipt", self.receipt),
                Route("/consistency/{m:int}/{n:int}", self.consistency),
            ]
        )
