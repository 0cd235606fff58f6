"""Verifying a prefix of entries against the root of a larger tree."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.tree import (
    Prefix,
    bundle_leaf_hashes,
    leaf_hashes,
    right_nodes,
    root_with_right,
    subtree_root,
)
from tlog.errors import MalformedProofError, TileError
from tlog.merkle import RFC6962, MemoryTree
from tlog.tiles import decode_entry_bundle, encode_entry_bundle

LEAVES = [RFC6962.leaf(b"entry %d" % i) for i in range(2100)]
TREE = MemoryTree(LEAVES)


def prefix_of(size: int, start_unaligned: int = 0) -> Prefix:
    """A prefix built as the monitor builds it: single leaves, then whole bundles."""
    p = Prefix()
    p.append_leaves(b"".join(LEAVES[:start_unaligned]))
    while p.size < size:
        end = min(size, (p.size // 256 + 1) * 256)
        p.append_bundle(b"".join(LEAVES[p.size : end]))
    return p


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_prefix_root_and_verification(data: st.DataObject) -> None:
    tree_size = data.draw(st.integers(1, len(LEAVES)))
    size = data.draw(st.integers(0, tree_size))
    p = prefix_of(size, data.draw(st.integers(0, size)))
    assert p.size == size and p.root() == TREE.root(size)
    for level, index in right_nodes(p, tree_size):
        assert index << level >= size and (index + 1) << level <= tree_size
    assert root_with_right(p, tree_size, TREE.node_hash) == TREE.root(tree_size)
    restored = Prefix.from_bytes(size, p.to_bytes())
    assert restored.root() == p.root()


def test_a_wrong_entry_never_matches() -> None:
    p = prefix_of(1000)
    p.hashes[-1] = bytes(32)
    assert root_with_right(p, 2000, TREE.node_hash) != TREE.root(2000)


def test_misuse() -> None:
    with pytest.raises(MalformedProofError):
        Prefix(3, [bytes(32)])
    with pytest.raises(MalformedProofError):
        Prefix(1, [bytes(32)]).append_subtree(8, bytes(32))
    with pytest.raises(MalformedProofError):
        root_with_right(prefix_of(10), 5, TREE.node_hash)
    with pytest.raises(MalformedProofError):
        subtree_root(bytes(96))


@settings(max_examples=300, deadline=None)
@given(entries=st.lists(st.binary(max_size=70), min_size=1, max_size=256))
def test_bundle_leaf_hashes_equals_decode_then_hash(entries: list[bytes]) -> None:
    bundle = encode_entry_bundle(entries)
    assert bundle_leaf_hashes(bundle, len(entries)) == leaf_hashes(entries)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300), count=st.integers(1, 256))
def test_bundle_leaf_hashes_rejects_what_decode_rejects(data: bytes, count: int) -> None:
    try:
        expected = leaf_hashes(decode_entry_bundle(data, count))
    except TileError:
        with pytest.raises(TileError):
            bundle_leaf_hashes(data, count)
        return
    assert bundle_leaf_hashes(data, count) == expected
