"""Tiled transparency logs, per C2SP tlog-tiles: tile paths, hash tiles, entry bundles.

A hash tile at level L holds up to 256 consecutive Merkle tree hashes of tree level
8L: tile N at level L holds the hashes of the complete subtrees over leaves
[(256N + i) * 256**L, (256N + i + 1) * 256**L) for i = 0..255. A tree of size s
publishes, at every level L with s >= 256**L, the full tiles 0..floor(n/256) - 1 and,
if n mod 256 != 0, one partial tile of width n mod 256, where n = floor(s / 256**L).

Everything here is pure: an I/O shell asks tiles_needed_for_* which tiles to fetch,
fetches them, and hands them to TileHashReader, whose node_hash feeds the proof
generators of tlog.merkle. The planners raise merkle's MalformedProofError for the
sizes and indices the proof generators reject.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from tlog import merkle
from tlog.errors import TileError
from tlog.merkle import HASH_SIZE, RFC6962, HashRule, MemoryTree, NodeHash

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_LEVEL = 63
MAX_ENTRY_SIZE = 0xFFFF

_LEVEL = re.compile(r"0|[1-9][0-9]?")
_WIDTH = re.compile(r"[1-9][0-9]{0,2}")
_INNER_GROUP = re.compile(r"x[0-9]{3}")
_LAST_GROUP = re.compile(r"[0-9]{3}")


def _encode_index(index: int) -> str:
    digits = str(index)
    digits = digits.zfill(-(-len(digits) // 3) * 3)
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([*("x" + g for g in groups[:-1]), groups[-1]])


def _suffix(width: int) -> str:
    return "" if width == TILE_WIDTH else f".p/{width}"


def _check_index_width(index: int, width: int) -> None:
    if index < 0:
        raise TileError(f"tile index {index} is negative")
    if not 1 <= width <= TILE_WIDTH:
        raise TileError(f"tile width {width} is not in 1..{TILE_WIDTH}")


@dataclass(frozen=True, slots=True, order=True)
class TileRef:
    """Hash tile ``index`` at tile level ``level`` holding ``width`` hashes (256: full)."""

    level: int
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if not 0 <= self.level <= MAX_LEVEL:
            raise TileError(f"tile level {self.level} is not in 0..{MAX_LEVEL}")
        _check_index_width(self.index, self.width)

    @property
    def path(self) -> str:
        """``tile/<L>/<N>[.p/<W>]``."""
        return f"tile/{self.level}/{_encode_index(self.index)}{_suffix(self.width)}"


@dataclass(frozen=True, slots=True, order=True)
class EntriesRef:
    """Entry bundle ``index`` holding ``width`` entries (256: full)."""

    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        _check_index_width(self.index, self.width)

    @property
    def path(self) -> str:
        """``tile/entries/<N>[.p/<W>]``."""
        return f"tile/entries/{_encode_index(self.index)}{_suffix(self.width)}"


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """The path of a hash tile, e.g. ``tile/0/x001/x234/067.p/112``."""
    return TileRef(level, index, width).path


def entries_path(index: int, width: int = TILE_WIDTH) -> str:
    """The path of an entry bundle, e.g. ``tile/entries/005``."""
    return EntriesRef(index, width).path


def parse_tile_path(path: str) -> TileRef | EntriesRef:
    """Parse ``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]`` in canonical form only.

    L is 0..63 in decimal without leading zeros; N is split into 3-digit groups, all
    but the last prefixed with x, without a leading x000 group; W is 1..255 in
    decimal without leading zeros. Anything else raises TileError.
    """
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise TileError(f"{path!r} is not a tile path: want tile/<L>/<N> or tile/entries/<N>")
    kind, groups = parts[1], parts[2:]
    width = TILE_WIDTH
    if len(groups) >= 2 and groups[-2].endswith(".p"):
        if not _WIDTH.fullmatch(groups[-1]) or int(groups[-1]) >= TILE_WIDTH:
            raise TileError(
                f"tile path {path!r}: partial width {groups[-1]!r} is not a number in 1..255 "
                "without leading zeros"
            )
        width = int(groups[-1])
        groups = [*groups[:-2], groups[-2].removesuffix(".p")]
    for g in groups[:-1]:
        if not _INNER_GROUP.fullmatch(g):
            raise TileError(f"tile path {path!r}: index element {g!r} is not x and 3 digits")
    if not _LAST_GROUP.fullmatch(groups[-1]):
        raise TileError(f"tile path {path!r}: last index element {groups[-1]!r} is not 3 digits")
    if len(groups) > 1 and groups[0] == "x000":
        raise TileError(f"tile path {path!r}: index has a leading x000 element")
    index = int("".join(g.removeprefix("x") for g in groups))
    if kind == "entries":
        return EntriesRef(index, width)
    if not _LEVEL.fullmatch(kind) or int(kind) > MAX_LEVEL:
        raise TileError(
            f"tile path {path!r}: level {kind!r} is not 'entries' or a number in 0..{MAX_LEVEL} "
            "without leading zeros"
        )
    return TileRef(int(kind), index, width)


def tiles_for_size(size: int) -> list[TileRef]:
    """Every hash tile a tree of size publishes, by level then index."""
    if size < 0:
        raise TileError(f"tree size {size} is negative")
    refs: list[TileRef] = []
    level, n = 0, size
    while n:
        full, partial = divmod(n, TILE_WIDTH)
        refs.extend(TileRef(level, i) for i in range(full))
        if partial:
            refs.append(TileRef(level, full, partial))
        level, n = level + 1, full
    return refs


def tile_for_node(level: int, index: int, size: int) -> TileRef:
    """The tile, as published for a tree of size, that holds complete subtree (level, index).

    Tree level ``level`` lives in tile level level // 8: stored directly if level % 8
    is 0, otherwise hashed up from the 2**(level % 8) stored hashes below it.
    """
    if level < 0 or index < 0 or (index + 1) << level > size:
        raise TileError(
            f"level {level}, index {index} is not a complete subtree of a tree of size {size}"
        )
    tile_level, sublevel = divmod(level, TILE_HEIGHT)
    tile_index = (index << sublevel) >> TILE_HEIGHT
    stored = size >> (TILE_HEIGHT * tile_level)
    return TileRef(tile_level, tile_index, min(TILE_WIDTH, stored - tile_index * TILE_WIDTH))


def parse_hash_tile(data: bytes, width: int) -> list[bytes]:
    """Split a hash tile of width hashes into its 32-byte hashes."""
    if not 1 <= width <= TILE_WIDTH:
        raise TileError(f"tile width {width} is not in 1..{TILE_WIDTH}")
    want = HASH_SIZE * width
    if len(data) != want:
        raise TileError(f"hash tile of width {width} must be {want} bytes, got {len(data)}")
    return [bytes(data[i : i + HASH_SIZE]) for i in range(0, want, HASH_SIZE)]


def encode_hash_tile(hashes: Sequence[bytes]) -> bytes:
    """Concatenate 1 to 256 hashes into a hash tile."""
    if not 1 <= len(hashes) <= TILE_WIDTH:
        raise TileError(f"a hash tile holds 1 to {TILE_WIDTH} hashes, got {len(hashes)}")
    for i, h in enumerate(hashes):
        if len(h) != HASH_SIZE:
            raise TileError(f"hash {i} of a hash tile is {len(h)} bytes, want {HASH_SIZE}")
    return b"".join(hashes)


def encode_entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Concatenate 1 to 256 entries, each prefixed with its big-endian uint16 length."""
    if not 1 <= len(entries) <= TILE_WIDTH:
        raise TileError(f"an entry bundle holds 1 to {TILE_WIDTH} entries, got {len(entries)}")
    out = bytearray()
    for i, e in enumerate(entries):
        if len(e) > MAX_ENTRY_SIZE:
            raise TileError(
                f"entry {i} is {len(e)} bytes; an entry bundle holds entries of at most "
                f"{MAX_ENTRY_SIZE} bytes"
            )
        out += len(e).to_bytes(2, "big")
        out += e
    return bytes(out)


def decode_entry_bundle(data: bytes, expected: int | None = None) -> list[bytes]:
    """Split an entry bundle into its entries.

    A bundle holds 1 to 256 entries, exactly ``expected`` if given (the width of
    the bundle the caller asked for). Truncation or a wrong count raises TileError
    naming the byte offset.
    """
    limit = TILE_WIDTH if expected is None else expected
    if not 1 <= limit <= TILE_WIDTH:
        raise TileError(f"an entry bundle holds 1 to {TILE_WIDTH} entries, not {expected}")
    entries: list[bytes] = []
    offset, end = 0, len(data)
    while offset < end:
        if len(entries) == limit:
            raise TileError(
                f"entry bundle has more than {limit} entries: entry {limit} starts at "
                f"byte offset {offset}"
            )
        if end - offset < 2:
            raise TileError(
                f"entry bundle truncated: the length of entry {len(entries)} at byte offset "
                f"{offset} needs 2 bytes, {end - offset} left"
            )
        start = offset + 2
        length = int.from_bytes(data[offset:start], "big")
        if start + length > end:
            raise TileError(
                f"entry bundle truncated: entry {len(entries)} at byte offset {start} is "
                f"{length} bytes, {end - start} left"
            )
        entries.append(bytes(data[start : start + length]))
        offset = start + length
    if not entries or (expected is not None and len(entries) != expected):
        raise TileError(
            f"entry bundle ends at byte offset {end} after {len(entries)} entries, "
            f"want {limit if expected is not None else '1 or more'}"
        )
    return entries


class TileHashReader:
    """The node hashes of a tree of size, read from its hash tiles (a merkle.NodeHash).

    ``tiles`` maps TileRef to tile bytes; it needs only the tiles the caller's
    computation touches (see tiles_needed_for_*). A partial tile may be replaced
    by the full tile at the same position. Tiles are not checked against any root
    here: verify the proof or root computed from them against a signed checkpoint.
    A missing or wrongly sized tile raises TileError.
    """

    def __init__(self, size: int, tiles: Mapping[TileRef, bytes], rule: HashRule = RFC6962) -> None:
        if size < 0:
            raise TileError(f"tree size {size} is negative")
        self.size = size
        self.rule = rule
        self._tiles = tiles
        self._rows: dict[TileRef, list[list[bytes]]] = {}

    def _load(self, ref: TileRef) -> list[bytes]:
        data = self._tiles.get(ref)
        try:
            if data is not None:
                return parse_hash_tile(data, ref.width)
            full = TileRef(ref.level, ref.index)
            data = self._tiles.get(full)
            if data is not None:
                return parse_hash_tile(data, TILE_WIDTH)[: ref.width]
        except TileError as e:
            raise TileError(f"{ref.path}: {e}") from e
        raise TileError(f"tile {ref.path} is needed for a tree of size {self.size} but is missing")

    def node_hash(self, level: int, index: int) -> bytes:
        """The hash of complete subtree (level, index); see merkle.NodeHash."""
        ref = tile_for_node(level, index, self.size)
        rows = self._rows.get(ref)
        if rows is None:
            rows = self._rows[ref] = [self._load(ref)]
        sublevel = level % TILE_HEIGHT
        while len(rows) <= sublevel:
            below = rows[-1]
            rows.append(
                [self.rule.node(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            )
        return rows[sublevel][index % (TILE_WIDTH >> sublevel)]


_PLACEHOLDER = bytes(HASH_SIZE)


def _tiles_touched(size: int, compute: Callable[[NodeHash], object]) -> list[TileRef]:
    touched: set[TileRef] = set()

    def record(level: int, index: int) -> bytes:
        touched.add(tile_for_node(level, index, size))
        return _PLACEHOLDER

    compute(record)
    return sorted(touched)


def tiles_needed_for_root(size: int) -> list[TileRef]:
    """The tiles of a tree of size that merkle.tree_root(size) reads."""
    return _tiles_touched(size, lambda node_hash: merkle.tree_root(size, node_hash))


def tiles_needed_for_inclusion(index: int, size: int) -> list[TileRef]:
    """The tiles of a tree of size that merkle.inclusion_proof(index, size) reads."""
    return _tiles_touched(size, lambda node_hash: merkle.inclusion_proof(index, size, node_hash))


def tiles_needed_for_consistency(old_size: int, new_size: int) -> list[TileRef]:
    """The tiles of a tree of new_size that merkle.consistency_proof(old_size, new_size) reads."""
    return _tiles_touched(
        new_size, lambda node_hash: merkle.consistency_proof(old_size, new_size, node_hash)
    )


def tile_hashes_for_tree(tree: MemoryTree, size: int, old_size: int = 0) -> dict[TileRef, bytes]:
    """The hash tiles a tree of size publishes that a tree of old_size did not.

    With old_size 0 (the default) that is every tile of size. A log that has
    published old_size writes only these after growing to size.
    """
    if not 0 <= old_size <= size <= tree.size:
        raise TileError(
            f"tile sizes must satisfy 0 <= old {old_size} <= size {size} <= tree size {tree.size}"
        )
    published = set(tiles_for_size(old_size))
    tiles: dict[TileRef, bytes] = {}
    for ref in tiles_for_size(size):
        if ref in published:
            continue
        level, first = ref.level * TILE_HEIGHT, ref.index * TILE_WIDTH
        tiles[ref] = b"".join(tree.node_hash(level, first + i) for i in range(ref.width))
    return tiles
