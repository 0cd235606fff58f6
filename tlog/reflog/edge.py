"""The right edge of a tiled tree: all a sequencer needs to append and sign.

For a tree of size s, level L of the tiles stores n_L = s // 256**L hashes, of
which the last n_L mod 256 form the partial tile at that level; the partial
entry bundle holds the last s mod 256 entries. Those partial tiles are exactly
the tiles tlog.tiles reads to hash the root, and appending only ever changes
them or completes them into full tiles. So the edge is O(log s) state, it is
rebuilt from the published partial tiles on restart, and appending returns the
new files to publish without reading anything else. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tlog import merkle
from tlog.errors import TileError
from tlog.merkle import RFC6962, MemoryTree
from tlog.tiles import (
    MAX_ENTRY_SIZE,
    TILE_HEIGHT,
    TILE_WIDTH,
    EntriesRef,
    TileHashReader,
    TileRef,
    decode_entry_bundle,
    encode_entry_bundle,
    encode_hash_tile,
    parse_hash_tile,
)

Files = list[tuple[str, bytes]]
"""Files to publish: (path relative to the log directory, contents)."""


def _levels(size: int) -> int:
    """How many tile levels a tree of size stores hashes at."""
    levels = 0
    while size >> (TILE_HEIGHT * levels):
        levels += 1
    return levels


def partial_refs(size: int) -> tuple[list[TileRef], EntriesRef | None]:
    """The partial hash tiles and the partial entry bundle a tree of size publishes."""
    refs = []
    for level in range(_levels(size)):
        stored = size >> (TILE_HEIGHT * level)
        if stored % TILE_WIDTH:
            refs.append(TileRef(level, stored // TILE_WIDTH, stored % TILE_WIDTH))
    bundle = EntriesRef(size // TILE_WIDTH, size % TILE_WIDTH) if size % TILE_WIDTH else None
    return refs, bundle


@dataclass(frozen=True)
class TreeEdge:
    """A tree of ``size`` entries as its partial tiles.

    ``rows[L]`` holds the hashes of the partial tile at level L (empty when the
    level has none) and ``bundle`` the entries of the partial entry bundle.
    """

    size: int
    rows: tuple[tuple[bytes, ...], ...]
    bundle: tuple[bytes, ...]

    @classmethod
    def empty(cls) -> TreeEdge:
        return cls(0, (), ())

    @classmethod
    def from_tiles(
        cls, size: int, tiles: Mapping[TileRef, bytes], bundle: bytes | None
    ) -> TreeEdge:
        """Rebuild the edge from the partial tiles and bundle of a tree of size.

        Raises TileError when one is missing, malformed, or the bundle's entries
        do not hash to the level-0 partial tile.
        """
        refs, bundle_ref = partial_refs(size)
        rows: list[tuple[bytes, ...]] = [() for _ in range(_levels(size))]
        for ref in refs:
            data = tiles.get(ref)
            if data is None:
                raise TileError(f"{ref.path} is missing for a tree of size {size}")
            rows[ref.level] = tuple(parse_hash_tile(data, ref.width))
        entries: tuple[bytes, ...] = ()
        if bundle_ref is not None:
            if bundle is None:
                raise TileError(f"{bundle_ref.path} is missing for a tree of size {size}")
            entries = tuple(decode_entry_bundle(bundle, bundle_ref.width))
            if [RFC6962.leaf(e) for e in entries] != list(rows[0]):
                raise TileError(f"{bundle_ref.path} does not hash to the level 0 partial tile")
        return cls(size, tuple(rows), entries)

    def tiles(self) -> dict[TileRef, bytes]:
        """The partial hash tiles of this edge."""
        refs, _ = partial_refs(self.size)
        return {ref: encode_hash_tile(self.rows[ref.level]) for ref in refs}

    def root(self) -> bytes:
        """The RFC 6962 root hash of the tree."""
        return merkle.tree_root(self.size, TileHashReader(self.size, self.tiles()).node_hash)

    def append(self, entries: Sequence[bytes]) -> tuple[TreeEdge, Files]:
        """The edge after appending entries, and the files the new tree publishes
        that the old one did not: completed full tiles and bundles, then new partials.
        """
        rows = [list(r) for r in self.rows]
        bundle = list(self.bundle)
        size = self.size
        files: Files = []
        for entry in entries:
            if len(entry) > MAX_ENTRY_SIZE:
                raise TileError(f"entry is {len(entry)} bytes, over the {MAX_ENTRY_SIZE} limit")
            size += 1
            bundle.append(entry)
            if len(bundle) == TILE_WIDTH:
                files.append((EntriesRef(size // TILE_WIDTH - 1).path, encode_entry_bundle(bundle)))
                bundle = []
            carry = RFC6962.leaf(entry)
            level = 0
            while True:
                if level == len(rows):
                    rows.append([])
                rows[level].append(carry)
                if len(rows[level]) < TILE_WIDTH:
                    break
                index = (size >> (TILE_HEIGHT * level)) // TILE_WIDTH - 1
                files.append((TileRef(level, index).path, encode_hash_tile(rows[level])))
                carry = MemoryTree(rows[level]).root()
                rows[level] = []
                level += 1
        edge = TreeEdge(size, tuple(tuple(r) for r in rows), tuple(bundle))
        old_refs, old_bundle = partial_refs(self.size)
        new_refs, new_bundle = partial_refs(size)
        files += [
            (ref.path, encode_hash_tile(edge.rows[ref.level]))
            for ref in new_refs
            if ref not in old_refs
        ]
        if new_bundle is not None and new_bundle != old_bundle:
            files.append((new_bundle.path, encode_entry_bundle(bundle)))
        return edge, files


def superseded_partials(old_size: int, new_size: int) -> list[str]:
    """Directories ``<N>.p`` of partial tiles and bundles that are full at new_size.

    The spec lets a log delete a partial tile once its full tile is available.
    """
    old_refs, old_bundle = partial_refs(old_size)
    dirs = []
    for ref in old_refs:
        if (new_size >> (TILE_HEIGHT * ref.level)) >= (ref.index + 1) * TILE_WIDTH:
            dirs.append(TileRef(ref.level, ref.index).path + ".p")
    if old_bundle is not None and new_size >= (old_bundle.index + 1) * TILE_WIDTH:
        dirs.append(EntriesRef(old_bundle.index).path + ".p")
    return dirs
