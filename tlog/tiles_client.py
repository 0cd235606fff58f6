"""A client for C2SP tlog-tiles logs: checkpoints, proofs and entries over HTTP.

Every computation asks tlog.tiles which tiles it reads, fetches exactly those
(at most ``concurrency`` requests at a time per client) and feeds them to the
pure proof code of tlog.merkle. Hash tiles are requested as published for a
tree of ``tree_size``, the size of a checkpoint the caller has verified: the
spec forbids fetching partial tiles no checkpoint requires. A partial tile or
bundle that answers 404 is replaced by its full version, which the spec lets
logs delete partials for.

Each request runs under a deadline; 5xx answers, timeouts and connection
errors are retried with exponential backoff. Response bodies are read up to a
limit derived from what the resource may hold, so a hostile log cannot make
the client buffer more. That GET is tlog.httpget's, shared by every log
client; its errors (LogClientError and subclasses) are importable from here.
Proofs and roots computed from tiles are only as good as the checkpoint they
are verified against: verify them with tlog.merkle.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence

import httpx
import trio

from tlog import merkle
from tlog.checkpoint import SignedCheckpoint, open_checkpoint
from tlog.errors import CheckpointError, MalformedProofError, TileError
from tlog.httpget import ClosesGetter, Getter, first_error
from tlog.httpget import LogClientError as LogClientError
from tlog.httpget import LogStatusError as LogStatusError
from tlog.httpget import LogUnavailableError as LogUnavailableError
from tlog.merkle import HASH_SIZE
from tlog.note import MAX_NOTE_BYTES, Verifier
from tlog.tiles import (
    MAX_ENTRY_SIZE,
    TILE_HEIGHT,
    TILE_WIDTH,
    EntriesRef,
    TileHashReader,
    TileRef,
    decode_entry_bundle,
    tiles_needed_for_consistency,
    tiles_needed_for_inclusion,
    tiles_needed_for_root,
)

MAX_BUNDLE_BYTES = TILE_WIDTH * (2 + MAX_ENTRY_SIZE)


def _widen(refs: Iterable[TileRef], tree_size: int) -> list[TileRef]:
    """The same tile positions as published for a tree of tree_size (wider or full)."""
    out = []
    for ref in refs:
        stored = tree_size >> (TILE_HEIGHT * ref.level)
        out.append(TileRef(ref.level, ref.index, min(TILE_WIDTH, stored - ref.index * TILE_WIDTH)))
    return out


def _check_tree_size(size: int, tree_size: int | None) -> int:
    tree_size = size if tree_size is None else tree_size
    if not 0 <= size <= tree_size:
        raise MalformedProofError(f"tree size {size} is not in 0..{tree_size} (the checkpoint)")
    return tree_size


class TiledLogClient(ClosesGetter):
    """Reads one tlog-tiles log at ``base_url`` whose checkpoints ``log_verifiers`` sign.

    Pass an ``httpx.AsyncClient`` to share its connection pool; otherwise the
    client makes one and closes it on ``aclose()`` or at the end of ``async with``.
    With ``origin`` set, a checkpoint of another origin is rejected. This is the
    ``tiles`` kind of tlog.ledger.LedgerSource.
    """

    kind = "tiles"
    hash_rule = merkle.RFC6962

    def __init__(
        self,
        base_url: str,
        log_verifiers: Sequence[Verifier],
        client: httpx.AsyncClient | None = None,
        *,
        origin: str | None = None,
        timeout: float = 10.0,
        concurrency: int = 8,
        retries: int = 3,
        backoff: float = 0.1,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.log_verifiers = tuple(log_verifiers)
        self.origin = origin
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._getter = Getter(
            self.base_url,
            client,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            concurrency=concurrency,
        )
        self.concurrency = concurrency

    async def _get(self, path: str, limit: int) -> bytes | None:
        """The body of GET path (at most limit + 1 bytes), or None on 404."""
        return await self._getter.get(path, limit)

    async def fetch_checkpoint(self) -> SignedCheckpoint:
        """The log's current checkpoint, with its log signature verified.

        Raises NoteError subclasses for a bad or unsigned note, CheckpointError
        for a bad body or a wrong origin, LogClientError when it cannot be read.
        """
        data = await self._get("checkpoint", MAX_NOTE_BYTES)
        if data is None:
            raise LogStatusError(f"{self.base_url}/checkpoint", 404, "no checkpoint")
        signed = open_checkpoint(data, self.log_verifiers)
        if self.origin is not None and signed.checkpoint.origin != self.origin:
            raise CheckpointError(
                f"{self.base_url}/checkpoint has origin {signed.checkpoint.origin!r}, "
                f"want {self.origin!r}"
            )
        return signed

    async def _fetch_tile(self, ref: TileRef, out: dict[TileRef, bytes]) -> None:
        want = ref.width * HASH_SIZE
        data = await self._get(ref.path, want)
        if data is None and ref.width < TILE_WIDTH:
            ref = TileRef(ref.level, ref.index)
            want = TILE_WIDTH * HASH_SIZE
            data = await self._get(ref.path, want)
        if data is None:
            raise LogStatusError(f"{self.base_url}/{ref.path}", 404, "tile not found")
        if len(data) != want:
            raise TileError(f"{self.base_url}/{ref.path} is {len(data)} bytes, want {want}")
        out[ref] = data

    async def fetch_tiles(self, refs: Iterable[TileRef]) -> dict[TileRef, bytes]:
        """Fetch hash tiles concurrently; a missing partial is replaced by its full tile.

        Raises TileError for a tile of the wrong length and LogClientError when
        one cannot be fetched.
        """
        out: dict[TileRef, bytes] = {}
        with first_error():
            async with trio.open_nursery() as nursery:
                for ref in set(refs):
                    nursery.start_soon(self._fetch_tile, ref, out)
        return out

    async def _reader(self, refs: Iterable[TileRef], tree_size: int) -> TileHashReader:
        tiles = await self.fetch_tiles(_widen(refs, tree_size))
        return TileHashReader(tree_size, tiles)

    async def tree_root(self, size: int, tree_size: int | None = None) -> bytes:
        """The root of the first size entries, from the tiles of a tree of tree_size."""
        tree_size = _check_tree_size(size, tree_size)
        reader = await self._reader(tiles_needed_for_root(size), tree_size)
        return merkle.tree_root(size, reader.node_hash)

    async def inclusion_proof(
        self, index: int, size: int, tree_size: int | None = None
    ) -> list[bytes]:
        """The inclusion proof of entry index in the tree of size (default tree_size: size)."""
        tree_size = _check_tree_size(size, tree_size)
        reader = await self._reader(tiles_needed_for_inclusion(index, size), tree_size)
        return merkle.inclusion_proof(index, size, reader.node_hash)

    async def consistency_proof(
        self, old_size: int, new_size: int, tree_size: int | None = None
    ) -> list[bytes]:
        """The consistency proof from old_size to new_size (default tree_size: new_size).

        tree_size is the size of the newer checkpoint whose tiles are read.
        """
        tree_size = _check_tree_size(new_size, tree_size)
        reader = await self._reader(tiles_needed_for_consistency(old_size, new_size), tree_size)
        return merkle.consistency_proof(old_size, new_size, reader.node_hash)

    def leaf_hash(self, entry: bytes) -> bytes:
        """The RFC 6962 leaf hash of one entry."""
        return merkle.RFC6962.leaf(entry)

    async def _fetch_bundle(self, ref: EntriesRef, out: dict[int, list[bytes]]) -> None:
        data = await self._get(ref.path, MAX_BUNDLE_BYTES)
        if data is not None:
            out[ref.index] = decode_entry_bundle(data, ref.width)
            return
        if ref.width < TILE_WIDTH:
            full = EntriesRef(ref.index)
            data = await self._get(full.path, MAX_BUNDLE_BYTES)
            if data is not None:
                out[ref.index] = decode_entry_bundle(data, TILE_WIDTH)[: ref.width]
                return
        raise LogStatusError(f"{self.base_url}/{ref.path}", 404, "entry bundle not found")

    async def entries(
        self, start: int, end: int, tree_size: int | None = None
    ) -> AsyncIterator[bytes]:
        """Yield entries start..end-1 in order, from the bundles of a tree of tree_size.

        Bundles are fetched ``concurrency`` at a time; each must hold exactly the
        number of entries its position requires (TileError otherwise). The
        entries are not checked against any root here: a monitor hashes them
        and compares with the level-0 tiles or the checkpoint root.
        """
        tree_size = _check_tree_size(end, tree_size)
        if not 0 <= start <= end:
            raise MalformedProofError(f"entry range [{start}, {end}) is not in 0..{tree_size}")
        if start == end:
            return
        first, last = start // TILE_WIDTH, (end - 1) // TILE_WIDTH
        step = self.concurrency
        for chunk in range(first, last + 1, step):
            refs = [
                EntriesRef(n, min(TILE_WIDTH, tree_size - n * TILE_WIDTH))
                for n in range(chunk, min(chunk + step, last + 1))
            ]
            bundles: dict[int, list[bytes]] = {}
            with first_error():
                async with trio.open_nursery() as nursery:
                    for ref in refs:
                        nursery.start_soon(self._fetch_bundle, ref, bundles)
            for ref in refs:
                base = ref.index * TILE_WIDTH
                for offset, entry in enumerate(bundles[ref.index]):
                    if start <= base + offset < end:
                        yield entry
