"""A static-ct-api (c2sp.org/static-ct-api) log client: the ledger kind ``static-ct``.

The checkpoint and hash tiles are tlog-tiles resources, read by
tlog.tiles_client.TiledLogClient; the checkpoint must verify with the log's
type 0x05 key (its origin is the key name). Entries come from data tiles
``tile/data/<N>[.p/<W>]`` of TileLeaf structures, each turned back into the
MerkleTreeLeaf the tree hashes, so ``leaf_hash`` is the RFC 6962 leaf hash
and a monitor checks entries against the root as for any source. A partial
data tile that answers 404 is cut from its full version.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import httpx
import trio

from tlog import merkle
from tlog.checkpoint import SignedCheckpoint
from tlog.ct.keys import ct_verifier
from tlog.ct.leaf import TileLeaf, data_tile_path, parse_data_tile
from tlog.errors import MalformedProofError
from tlog.httpget import ClosesGetter, Getter, first_error
from tlog.note import Verifier
from tlog.tiles import TILE_WIDTH
from tlog.tiles_client import LogStatusError, TiledLogClient

MAX_DATA_TILE_BYTES = TILE_WIDTH * (1 << 20)
"""A bound on one decoded data tile: 256 entries of up to 1 MiB (certificates are ~2 KiB)."""


class StaticCTClient(ClosesGetter):
    """Reads one static-ct-api log at ``url`` (its monitoring prefix)."""

    kind = "static-ct"
    hash_rule = merkle.RFC6962

    def __init__(
        self,
        url: str,
        verifiers: Sequence[Verifier],
        http: httpx.AsyncClient | None = None,
        *,
        origin: str | None = None,
        timeout: float = 10.0,
        concurrency: int = 8,
    ) -> None:
        self.url = url.rstrip("/")
        self.verifier = ct_verifier(verifiers, origin, url)
        self.origin = self.verifier.name
        self._getter = Getter(self.url, http, timeout=timeout, concurrency=concurrency)
        self.tiles = TiledLogClient(
            self.url, [self.verifier], self._getter.http, origin=self.origin, timeout=timeout,
            concurrency=concurrency,
        )  # fmt: skip
        self.concurrency = concurrency

    async def fetch_checkpoint(self) -> SignedCheckpoint:
        """The checkpoint, verified with the log's type 0x05 key."""
        return await self.tiles.fetch_checkpoint()

    async def consistency_proof(
        self, old_size: int, new_size: int, tree_size: int | None = None
    ) -> list[bytes]:
        return await self.tiles.consistency_proof(old_size, new_size, tree_size)

    async def inclusion_proof(
        self, index: int, size: int, tree_size: int | None = None
    ) -> list[bytes]:
        return await self.tiles.inclusion_proof(index, size, tree_size)

    async def tree_root(self, size: int, tree_size: int | None = None) -> bytes:
        """The root of the first size entries, from the tiles of the tree of tree_size."""
        return await self.tiles.tree_root(size, tree_size)

    def leaf_hash(self, entry: bytes) -> bytes:
        """The RFC 6962 leaf hash of a MerkleTreeLeaf."""
        return merkle.RFC6962.leaf(entry)

    async def _data_tile(self, index: int, width: int, out: dict[int, list[TileLeaf]]) -> None:
        data = await self._getter.get_bounded(data_tile_path(index, width), MAX_DATA_TILE_BYTES)
        if data is not None:
            out[index] = parse_data_tile(data, width)
            return
        if width < TILE_WIDTH:
            data = await self._getter.get_bounded(data_tile_path(index), MAX_DATA_TILE_BYTES)
            if data is not None:
                out[index] = parse_data_tile(data, TILE_WIDTH)[:width]
                return
        raise LogStatusError(self._getter.url(data_tile_path(index, width)), 404, "not found")

    async def tile_leaves(
        self, start: int, end: int, tree_size: int | None = None
    ) -> AsyncIterator[tuple[int, TileLeaf]]:
        """Yield (index, TileLeaf) for start..end-1 from the data tiles of a tree of tree_size."""
        tree_size = end if tree_size is None else tree_size
        if not 0 <= start <= end <= tree_size:
            raise MalformedProofError(f"entry range [{start}, {end}) is not in 0..{tree_size}")
        if start == end:
            return
        first, last = start // TILE_WIDTH, (end - 1) // TILE_WIDTH
        for chunk in range(first, last + 1, self.concurrency):
            tiles = range(chunk, min(chunk + self.concurrency, last + 1))
            got: dict[int, list[TileLeaf]] = {}
            with first_error():
                async with trio.open_nursery() as nursery:
                    for n in tiles:
                        width = min(TILE_WIDTH, tree_size - n * TILE_WIDTH)
                        nursery.start_soon(self._data_tile, n, width, got)
            for n in tiles:
                for offset, leaf in enumerate(got[n]):
                    if start <= n * TILE_WIDTH + offset < end:
                        yield n * TILE_WIDTH + offset, leaf

    async def entries(
        self, start: int, end: int, tree_size: int | None = None
    ) -> AsyncIterator[bytes]:
        """Yield the MerkleTreeLeaf bytes of entries start..end-1, in order."""
        async for _index, leaf in self.tile_leaves(start, end, tree_size):
            yield leaf.merkle_tree_leaf()
