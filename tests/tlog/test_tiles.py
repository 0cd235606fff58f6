"""Tests for tlog.tiles: spec paths and widths, strict parsing, bundles, proofs from tiles."""

from __future__ import annotations

import functools
import hashlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.vectors import load
from tlog.errors import MalformedProofError, TileError
from tlog.merkle import CCF, MemoryTree, consistency_proof, inclusion_proof, tree_root
from tlog.tiles import (
    TILE_WIDTH,
    EntriesRef,
    TileHashReader,
    TileRef,
    decode_entry_bundle,
    encode_entry_bundle,
    encode_hash_tile,
    entries_path,
    parse_hash_tile,
    parse_tile_path,
    tile_for_node,
    tile_hashes_for_tree,
    tile_path,
    tiles_for_size,
    tiles_needed_for_consistency,
    tiles_needed_for_inclusion,
    tiles_needed_for_root,
)

# --- paths ---------------------------------------------------------------------------------


def derived_constant(key: str) -> str:
    """A value of the derived-constants section of c2sp-spec-examples.txt."""
    prefix = key + " "
    (value,) = (
        line.removeprefix(prefix)
        for line in load("c2sp-spec-examples.txt").lines("derived-constants")
        if line.startswith(prefix)
    )
    return value


def test_spec_tile_paths() -> None:
    full = derived_constant("tile-path(level=0,index=1234067)")
    partial = derived_constant("tile-path(level=0,index=1234067,partial width 112)")
    entries = derived_constant("tile-path(entries,index=5)")
    assert (full, partial, entries) == (
        "tile/0/x001/x234/067",
        "tile/0/x001/x234/067.p/112",
        "tile/entries/005",
    )
    assert tile_path(0, 1234067) == full
    assert tile_path(0, 1234067, 112) == partial
    assert entries_path(5) == entries
    assert parse_tile_path(full) == TileRef(0, 1234067)
    assert parse_tile_path(partial) == TileRef(0, 1234067, 112)
    assert parse_tile_path(entries) == EntriesRef(5)
    assert parse_tile_path("tile/entries/x001/000.p/1") == EntriesRef(1000, 1)
    assert tile_path(63, 0) == "tile/63/000"
    assert tile_path(1, 999) == "tile/1/999"
    assert tile_path(1, 1000) == "tile/1/x001/000"


@pytest.mark.parametrize(
    "path",
    [
        "",
        "tile",
        "tile/0",
        "tile/0/",
        "/tile/0/000",
        "tile/0/000/",
        "tiles/0/000",
        "tile/00/000",
        "tile/01/000",
        "tile/64/000",
        "tile/-1/000",
        "tile/+1/000",
        "tile/ 1/000",
        "tile/entry/000",
        "tile/0/0",
        "tile/0/0000",
        "tile/0/x000",
        "tile/0/1234",
        "tile/0/001/234",
        "tile/0/x001/x234",
        "tile/0/x000/001",
        "tile/0/x000/x001/000",
        "tile/0/X001/000",
        "tile/0/x1/000",
        "tile/0/\u0661\u0662\u0663",
        "tile/\u0661/000",
        "tile/0/000.p",
        "tile/0/000.p/",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/000.p/012",
        "tile/0/000.p/1/",
        "tile/0/000.p/1.p/2",
        "tile/0/000.q/1",
        "tile/0/x000.p/1",
        "tile/entries/000.p/256",
        "tile/entries/x000/000",
        "tile/0/000\n",
    ],
)
def test_non_canonical_paths_rejected(path: str) -> None:
    with pytest.raises(TileError):
        parse_tile_path(path)


tile_refs = st.builds(
    TileRef, st.integers(0, 63), st.integers(0, 1 << 64), st.integers(1, TILE_WIDTH)
)
entries_refs = st.builds(EntriesRef, st.integers(0, 1 << 64), st.integers(1, TILE_WIDTH))


@given(st.one_of(tile_refs, entries_refs))
def test_paths_round_trip(ref: TileRef | EntriesRef) -> None:
    assert parse_tile_path(ref.path) == ref


@settings(max_examples=500)
@given(st.one_of(st.text(), st.text(alphabet="tile/entrsx0123456789.p")))
def test_parse_accepts_only_canonical_paths(path: str) -> None:
    try:
        ref = parse_tile_path(path)
    except TileError:
        return
    assert ref.path == path


@pytest.mark.parametrize(
    ("args", "message"),
    [((64, 0), "level 64"), ((0, -1), "index -1"), ((0, 0, 0), "width 0"), ((0, 0, 257), "257")],
)
def test_bad_tile_refs(args: tuple[int, ...], message: str) -> None:
    with pytest.raises(TileError, match=message):
        TileRef(*args)


def test_bad_entries_refs() -> None:
    with pytest.raises(TileError, match="width 0"):
        EntriesRef(0, 0)
    with pytest.raises(TileError, match="index -1"):
        entries_path(-1)


# --- which tiles a tree publishes ------------------------------------------------------------


def test_tree_size_70000() -> None:
    expected: list[TileRef] = []
    for part in derived_constant("tree-size-70000").split("; "):
        m = re.fullmatch(r"level([0-9]+): (?:([0-9]+) full \+ )?partial width ([0-9]+)", part)
        assert m is not None, part
        level, full, width = int(m[1]), int(m[2] or 0), int(m[3])
        expected += [*(TileRef(level, i) for i in range(full)), TileRef(level, full, width)]
    assert tiles_for_size(70000) == expected
    assert expected == [
        *(TileRef(0, i) for i in range(273)),
        TileRef(0, 273, 112),
        TileRef(1, 0),
        TileRef(1, 1, 17),
        TileRef(2, 0, 1),
    ]


def test_small_sizes() -> None:
    assert tiles_for_size(0) == []
    assert tiles_for_size(1) == [TileRef(0, 0, 1)]
    assert tiles_for_size(255) == [TileRef(0, 0, 255)]
    # tlog-tiles.md: "a tree of size 256 will be represented by a full level 0 tile and a
    # partial level 1 tile of width 1".
    assert tiles_for_size(256) == [TileRef(0, 0), TileRef(1, 0, 1)]
    assert tiles_for_size(257) == [TileRef(0, 0), TileRef(0, 1, 1), TileRef(1, 0, 1)]
    with pytest.raises(TileError, match="negative"):
        tiles_for_size(-1)


@settings(deadline=None)
@given(st.integers(0, 1 << 24))
def test_tiles_for_size_cover_every_level(size: int) -> None:
    refs = tiles_for_size(size)
    assert len(set(refs)) == len(refs)
    for level in range(max((r.level for r in refs), default=-1) + 1):
        at_level = [r for r in refs if r.level == level]
        assert [r.index for r in at_level] == list(range(len(at_level)))
        assert sum(r.width for r in at_level) == size >> (8 * level)
        assert all(r.width == TILE_WIDTH for r in at_level[:-1])
    assert (size >> (8 * (len({r.level for r in refs})))) == 0


def test_tile_for_node() -> None:
    assert tile_for_node(0, 69999, 70000) == TileRef(0, 273, 112)
    assert tile_for_node(0, 5, 70000) == TileRef(0, 0)
    assert tile_for_node(7, 1, 70000) == TileRef(0, 0)
    assert tile_for_node(7, 2, 70000) == TileRef(0, 1)
    assert tile_for_node(8, 272, 70000) == TileRef(1, 1, 17)
    assert tile_for_node(15, 1, 70000) == TileRef(1, 0)
    assert tile_for_node(16, 0, 70000) == TileRef(2, 0, 1)
    assert tile_for_node(4, 0, 16) == TileRef(0, 0, 16)
    for level, index in ((0, 70000), (17, 0), (4, 4375), (-1, 0), (0, -1)):
        with pytest.raises(TileError, match="not a complete subtree"):
            tile_for_node(level, index, 70000)


# --- hash tiles and entry bundles -------------------------------------------------------------


def test_hash_tile_round_trip_and_errors() -> None:
    hashes = [bytes([i]) * 32 for i in range(3)]
    data = encode_hash_tile(hashes)
    assert data == b"".join(hashes)
    assert parse_hash_tile(data, 3) == hashes
    with pytest.raises(TileError, match="width 4 must be 128 bytes, got 96"):
        parse_hash_tile(data, 4)
    with pytest.raises(TileError, match="width 3 must be 96 bytes, got 95"):
        parse_hash_tile(data[:-1], 3)
    with pytest.raises(TileError, match="width 0"):
        parse_hash_tile(b"", 0)
    with pytest.raises(TileError, match="got 0"):
        encode_hash_tile([])
    with pytest.raises(TileError, match="got 257"):
        encode_hash_tile([bytes(32)] * 257)
    with pytest.raises(TileError, match="hash 1 of a hash tile is 31 bytes"):
        encode_hash_tile([bytes(32), bytes(31)])


@given(st.binary(max_size=300), st.integers(-1, 300))
def test_parse_hash_tile_raises_only_tile_errors(data: bytes, width: int) -> None:
    try:
        hashes = parse_hash_tile(data, width)
    except TileError:
        return
    assert encode_hash_tile(hashes) == data


entries = st.lists(st.binary(max_size=300), min_size=1, max_size=TILE_WIDTH)


@given(entries)
def test_entry_bundle_round_trip(bundle: list[bytes]) -> None:
    data = encode_entry_bundle(bundle)
    assert len(data) == sum(2 + len(e) for e in bundle)
    assert decode_entry_bundle(data) == bundle
    assert decode_entry_bundle(data, expected=len(bundle)) == bundle


def test_entry_bundle_encoding() -> None:
    assert encode_entry_bundle([b"ab", b"", b"c" * 0x0102]) == (
        b"\x00\x02ab" + b"\x00\x00" + b"\x01\x02" + b"c" * 0x0102
    )
    assert decode_entry_bundle(b"\xff\xff" + bytes(0xFFFF)) == [bytes(0xFFFF)]
    with pytest.raises(TileError, match="entry 1 is 65536 bytes"):
        encode_entry_bundle([b"", bytes(0x10000)])
    with pytest.raises(TileError, match="got 0"):
        encode_entry_bundle([])
    with pytest.raises(TileError, match="got 257"):
        encode_entry_bundle([b""] * 257)


@pytest.mark.parametrize(
    ("data", "expected", "message"),
    [
        (b"\x00\x02ab\x00", None, "length of entry 1 at byte offset 4 needs 2 bytes, 1 left"),
        (b"\x00\x02ab\x00\x05abc", None, "entry 1 at byte offset 6 is 5 bytes, 3 left"),
        (b"\x00\x02a", None, "entry 0 at byte offset 2 is 2 bytes, 1 left"),
        (b"", None, "ends at byte offset 0 after 0 entries"),
        (b"\x00\x01a\x00\x01b", 3, "ends at byte offset 6 after 2 entries, want 3"),
        (b"\x00\x01a\x00\x01b", 1, "more than 1 entries: entry 1 starts at byte offset 3"),
        (b"\x00\x00" * 257, None, "more than 256 entries: entry 256 starts at byte offset 512"),
        (b"\x00\x00", 0, "not 0"),
        (b"\x00\x00", 257, "not 257"),
    ],
)
def test_entry_bundle_errors(data: bytes, expected: int | None, message: str) -> None:
    with pytest.raises(TileError, match=message):
        decode_entry_bundle(data, expected)


@settings(max_examples=300)
@given(st.binary(max_size=600), st.none() | st.integers(-1, 300))
def test_decode_entry_bundle_raises_only_tile_errors(data: bytes, expected: int | None) -> None:
    try:
        bundle = decode_entry_bundle(data, expected)
    except TileError:
        return
    assert encode_entry_bundle(bundle) == data


# --- proofs from tiles ------------------------------------------------------------------------

TREE_SIZE = 70000 + 256
TREE = MemoryTree(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(TREE_SIZE))


@functools.cache
def published(size: int) -> dict[TileRef, bytes]:
    return tile_hashes_for_tree(TREE, size)


def only(size: int, refs: list[TileRef]) -> dict[TileRef, bytes]:
    tiles = published(size)
    return {ref: tiles[ref] for ref in refs}


def test_published_tiles_hold_the_spec_hashes() -> None:
    tiles = published(70000)
    assert list(tiles) == tiles_for_size(70000)
    for ref, data in tiles.items():
        assert len(data) == 32 * ref.width
    leaves = parse_hash_tile(tiles[TileRef(0, 272)], TILE_WIDTH)
    assert leaves == [TREE.node_hash(0, 272 * 256 + i) for i in range(256)]
    # A level-1 hash is the Merkle tree hash of a full level-0 tile.
    level1 = parse_hash_tile(tiles[TileRef(1, 1, 17)], 17)
    assert level1[16] == MemoryTree(leaves).root()
    assert tiles[TileRef(2, 0, 1)] == TREE.node_hash(16, 0)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, TREE_SIZE), st.data())
def test_tiles_reproduce_roots_and_proofs(size: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, size - 1), label="index")
    old = data.draw(st.integers(0, size), label="old")
    check_tiles_reproduce(size, index, old)


@pytest.mark.parametrize(
    ("size", "index", "old"),
    [
        (1, 0, 0),
        (256, 255, 255),
        (257, 256, 256),
        (65535, 1234, 65534),
        (65536, 65535, 256),
        (65537, 65536, 65536),
        (70000, 69999, 69888),
        (70000, 12345, 2),
        (TREE_SIZE, 70000, 65536),
    ],
)
def test_tiles_reproduce_roots_and_proofs_at_tile_edges(size: int, index: int, old: int) -> None:
    check_tiles_reproduce(size, index, old)


def check_tiles_reproduce(size: int, index: int, old: int) -> None:
    """Reading only the planned tiles gives the MemoryTree's root and proofs."""
    reader = TileHashReader(size, only(size, tiles_needed_for_root(size)))
    assert tree_root(size, reader.node_hash) == TREE.root(size)
    reader = TileHashReader(size, only(size, tiles_needed_for_inclusion(index, size)))
    assert inclusion_proof(index, size, reader.node_hash) == TREE.inclusion_proof(index, size)
    reader = TileHashReader(size, only(size, tiles_needed_for_consistency(old, size)))
    assert consistency_proof(old, size, reader.node_hash) == TREE.consistency_proof(old, size)


def test_planned_tiles() -> None:
    assert tiles_needed_for_root(0) == []
    assert tiles_needed_for_root(70000) == [
        TileRef(0, 273, 112),
        TileRef(1, 1, 17),
        TileRef(2, 0, 1),
    ]
    assert tiles_needed_for_consistency(5, 5) == []
    assert tiles_needed_for_inclusion(0, 1) == []
    assert tiles_needed_for_inclusion(0, 2) == [TileRef(0, 0, 2)]
    assert tiles_needed_for_consistency(1000, 70000) == [
        TileRef(0, 3),
        TileRef(0, 273, 112),
        TileRef(1, 0),
        TileRef(1, 1, 17),
    ]
    with pytest.raises(MalformedProofError):
        tiles_needed_for_inclusion(5, 5)
    with pytest.raises(MalformedProofError):
        tiles_needed_for_consistency(6, 5)


def test_reader_errors() -> None:
    with pytest.raises(TileError, match=r"tile tile/0/000\.p/3 is needed .* missing"):
        TileHashReader(3, {}).node_hash(0, 0)
    short = {TileRef(0, 0, 3): bytes(95)}
    with pytest.raises(TileError, match=r"tile/0/000\.p/3: .* 96 bytes, got 95"):
        TileHashReader(3, short).node_hash(1, 0)
    with pytest.raises(TileError, match="not a complete subtree"):
        TileHashReader(3, published(3)).node_hash(0, 3)
    with pytest.raises(TileError, match="negative"):
        TileHashReader(-1, {})


def test_reader_falls_back_to_the_full_tile() -> None:
    """tlog-tiles lets clients use the full tile when the partial one is gone."""
    tiles = {ref: data for ref, data in published(70000).items() if ref.level == 0}
    tiles[TileRef(1, 0, 1)] = published(300)[TileRef(1, 0, 1)]
    reader = TileHashReader(300, tiles)
    assert TileRef(0, 1, 44) not in tiles
    assert tree_root(300, reader.node_hash) == TREE.root(300)
    assert inclusion_proof(299, 300, reader.node_hash) == TREE.inclusion_proof(299, 300)


def test_incremental_tiles() -> None:
    old_tiles = published(300)
    new_tiles = tile_hashes_for_tree(TREE, 70000, old_size=300)
    assert set(new_tiles) == set(tiles_for_size(70000)) - set(tiles_for_size(300))
    assert TileRef(0, 0) not in new_tiles  # already full at 300
    assert TileRef(0, 1) in new_tiles  # was partial (width 44) at 300
    assert set(old_tiles) | set(new_tiles) >= set(tiles_for_size(70000))
    assert tile_hashes_for_tree(TREE, 5, old_size=5) == {}
    for sizes in ((301, 300), (5, TREE_SIZE + 1), (-1, 0)):
        with pytest.raises(TileError, match="must satisfy"):
            tile_hashes_for_tree(TREE, sizes[1], old_size=sizes[0])


def test_ccf_rule_tiles() -> None:
    ccf = MemoryTree((bytes([i % 256, i // 256]) * 16 for i in range(600)), rule=CCF)
    reader = TileHashReader(600, tile_hashes_for_tree(ccf, 600), rule=CCF)
    assert tree_root(600, reader.node_hash, CCF) == ccf.root()
    assert consistency_proof(77, 600, reader.node_hash, CCF) == ccf.consistency_proof(77, 600)
    rfc6962_reader = TileHashReader(600, tile_hashes_for_tree(ccf, 600))
    assert tree_root(600, rfc6962_reader.node_hash, CCF) != ccf.root()
