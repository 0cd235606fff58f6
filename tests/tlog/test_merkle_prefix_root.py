"""tlog.merkle.prefix_root_from_inclusion_proof: the root of D[0:index+1] from a leaf's path."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tlog.errors import MalformedProofError
from tlog.merkle import CCF, RFC6962, HashRule, MemoryTree, prefix_root_from_inclusion_proof

TREES = {
    rule.name: MemoryTree([hashlib.sha256(b"%d" % i).digest() for i in range(300)], rule)
    for rule in (RFC6962, CCF)
}
index_and_size = st.integers(1, 300).flatmap(lambda n: st.tuples(st.integers(0, n - 1), st.just(n)))


@given(index_and_size, st.sampled_from([RFC6962, CCF]))
def test_prefix_root_is_the_root_of_the_first_index_plus_one_leaves(
    case: tuple[int, int], rule: HashRule
) -> None:
    index, size = case
    tree = TREES[rule.name]
    proof = tree.inclusion_proof(index, size)
    got = prefix_root_from_inclusion_proof(tree.node_hash(0, index), index, size, proof, rule)
    assert got == tree.root(index + 1)


@given(index_and_size, st.data())
def test_a_changed_left_sibling_changes_the_prefix_root(
    case: tuple[int, int], data: st.DataObject
) -> None:
    index, size = case
    tree = TREES["rfc6962"]
    proof = tree.inclusion_proof(index, size)
    if not index:  # leaf 0 has no left sibling: the prefix is the leaf alone
        assert prefix_root_from_inclusion_proof(tree.node_hash(0, 0), 0, size, proof) == (
            tree.node_hash(0, 0)
        )
        return
    # A left sibling is a proof hash covering leaves before index: change one of them.
    lefts = [i for i, h in enumerate(proof) if h in _left_nodes(tree, index)]
    j = data.draw(st.sampled_from(lefts))
    bad = [*proof[:j], bytes(32), *proof[j + 1 :]]
    assert prefix_root_from_inclusion_proof(tree.node_hash(0, index), index, size, bad) != (
        tree.root(index + 1)
    )


def _left_nodes(tree: MemoryTree, index: int) -> set[bytes]:
    out, start = set(), 0
    for level in range(index.bit_length() - 1, -1, -1):
        if index >> level & 1:
            out.add(tree.node_hash(level, start >> level))
            start += 1 << level
    return out


@pytest.mark.parametrize(
    ("index", "size", "proof", "message"),
    [
        (3, 3, [], "not in a tree of size 3"),
        (0, 4, [bytes(32)], "has 1 hashes, want 2"),
        (1, 2, [b"short"], "hash 0 is 5 bytes"),
    ],
)
def test_malformed_proofs_are_refused(index: int, size: int, proof: list, message: str) -> None:
    with pytest.raises(MalformedProofError, match=message):
        prefix_root_from_inclusion_proof(bytes(32), index, size, proof)
