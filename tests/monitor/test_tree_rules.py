"""monitor.tree under each hash rule: a CCF ledger's prefix is CCF's tree, not RFC 6962's."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.tree import Prefix, root_with_right, subtree_root
from tlog.merkle import CCF, RFC6962, HashRule, MemoryTree

DIGESTS = [hashlib.sha256(b"leaf %d" % i).digest() for i in range(1100)]
TREES = {rule.name: MemoryTree(DIGESTS, rule) for rule in (RFC6962, CCF)}


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([RFC6962, CCF]), st.data())
def test_prefix_of_leaf_hashes_under_the_rule(rule: HashRule, data: st.DataObject) -> None:
    tree = TREES[rule.name]
    tree_size = data.draw(st.integers(1, len(DIGESTS)))
    size = data.draw(st.integers(0, tree_size))
    single = data.draw(st.integers(0, size))
    p = Prefix(rule=rule)
    p.append_leaves(b"".join(DIGESTS[:single]))
    while p.size < size:
        end = min(size, (p.size // 256 + 1) * 256)
        p.append_bundle(b"".join(DIGESTS[p.size : end]))
    assert p.root() == tree.root(size)
    assert root_with_right(p, tree_size, tree.node_hash) == tree.root(tree_size)
    copied = Prefix.from_bytes(size, p.to_bytes()).copy(rule)
    assert copied.rule is rule and copied.root() == p.root()
    if rule is CCF and size.bit_count() > 1:  # folding subtrees uses the rule too
        assert Prefix.from_bytes(size, p.to_bytes()).root() != p.root()


def test_subtree_root_and_empty_tree_follow_the_rule() -> None:
    for rule in (RFC6962, CCF):
        assert subtree_root(b"".join(DIGESTS[:256]), rule) == TREES[rule.name].node_hash(8, 0)
        assert Prefix(rule=rule).root() == rule.empty
