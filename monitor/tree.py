"""Verifying a log's entries against a signed root, batch by batch. Pure: no I/O.

A monitor keeps the tree over the entries it has checked as a Prefix: the
complete subtrees that [0, size) decomposes into (one hash per set bit of
size). After each batch it checks the prefix against the checkpoint's tree of
tree_size entries: the root of that tree is recomputed from the prefix's
hashes and the complete subtrees right of it, which come from the log's hash
tiles. Every subtree of [0, tree_size) the RFC 6962 root computation asks for
is a prefix node, a node right of the prefix, or a node straddling the
boundary, whose hash is composed from its two halves. If the recomputed root
equals the signed one, the checked entries are exactly the first size entries
of the signed tree; no choice of tile hashes can make wrong entries match.

The tree's hash rule is the ledger's (tlog.ledger.LedgerSource.hash_rule): RFC 6962
for tiles, CT and SCITT logs, CCF's unprefixed SHA-256 for CCF ledgers. The leaf
helpers below are RFC 6962's: only tiles logs, whose bundles they read, use them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

from tlog import merkle
from tlog.errors import MalformedProofError, TileError
from tlog.merkle import HASH_SIZE, RFC6962, HashRule, NodeHash
from tlog.tiles import TILE_HEIGHT, TILE_WIDTH

Node = tuple[int, int]
_PLACEHOLDER = bytes(HASH_SIZE)
BUNDLE_BYTES = TILE_WIDTH * HASH_SIZE


def leaf_hashes(entries: Iterable[bytes]) -> bytes:
    """The RFC 6962 leaf hashes of entries, concatenated."""
    sha = hashlib.sha256
    return b"".join([sha(b"\x00" + e).digest() for e in entries])


def subtree_root(hashes: bytes, rule: HashRule = RFC6962) -> bytes:
    """The root of the complete subtree over concatenated leaf hashes (a power of two of them)."""
    count = len(hashes) // HASH_SIZE
    if count == 0 or count & (count - 1) or len(hashes) % HASH_SIZE:
        raise MalformedProofError(f"{len(hashes)} bytes are not a power of two of hashes")
    sha, row, pair, prefix = hashlib.sha256, hashes, 2 * HASH_SIZE, rule.node_prefix
    while len(row) > HASH_SIZE:
        row = b"".join([sha(prefix + row[i : i + pair]).digest() for i in range(0, len(row), pair)])
    return row


class Prefix:
    """The tree over entries [0, size), kept as its complete subtrees, largest first."""

    def __init__(
        self, size: int = 0, hashes: Iterable[bytes] = (), rule: HashRule = RFC6962
    ) -> None:
        self.size = size
        self.rule = rule
        self.hashes = [bytes(h) for h in hashes]
        if size < 0 or len(self.hashes) != size.bit_count():
            raise MalformedProofError(f"a prefix of size {size} has {size.bit_count()} hashes")
        if any(len(h) != HASH_SIZE for h in self.hashes):
            raise MalformedProofError("prefix hashes must be 32 bytes")

    @classmethod
    def from_bytes(cls, size: int, data: bytes, rule: HashRule = RFC6962) -> Prefix:
        """The prefix stored as size and its concatenated hashes."""
        hashes = [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]
        return cls(size, hashes, rule)

    def to_bytes(self) -> bytes:
        return b"".join(self.hashes)

    def copy(self, rule: HashRule | None = None) -> Prefix:
        """A copy, under another hash rule if given (a stored prefix does not record one)."""
        return Prefix(self.size, self.hashes, self.rule if rule is None else rule)

    def append_subtree(self, level: int, h: bytes) -> None:
        """Append the complete subtree of 2**level entries with hash h; size must be aligned."""
        if self.size & ((1 << level) - 1):
            raise MalformedProofError(f"a subtree of level {level} cannot start at {self.size}")
        new_size = self.size + (1 << level)
        size = self.size
        while size >> level & 1:
            h = self.rule.node(self.hashes.pop(), h)
            size -= 1 << level
            level += 1
        self.hashes.append(h)
        self.size = new_size

    def append_bundle(self, hashes: bytes) -> None:
        """Append leaf hashes; a whole aligned bundle of 256 is hashed as one subtree."""
        if len(hashes) == BUNDLE_BYTES and not self.size % TILE_WIDTH:
            self.append_subtree(TILE_HEIGHT, subtree_root(hashes, self.rule))
        else:
            self.append_leaves(hashes)

    def append_leaves(self, hashes: bytes) -> None:
        """Append leaf hashes (concatenated) one by one."""
        for i in range(0, len(hashes), HASH_SIZE):
            self.append_subtree(0, hashes[i : i + HASH_SIZE])

    def nodes(self) -> dict[Node, bytes]:
        """The prefix's complete subtrees as {(level, index): hash}."""
        out, start = {}, 0
        for level in range(self.size.bit_length() - 1, -1, -1):
            if self.size >> level & 1:
                out[(level, start >> level)] = self.hashes[len(out)]
                start += 1 << level
        return out

    def root(self) -> bytes:
        """The root of the tree of exactly size entries."""
        if not self.hashes:
            return self.rule.empty
        r = self.hashes[-1]
        for h in reversed(self.hashes[:-1]):
            r = self.rule.node(h, r)
        return r


def _root_with(prefix: Prefix, tree_size: int, right: NodeHash) -> bytes:
    if not 0 <= prefix.size <= tree_size:
        raise MalformedProofError(
            f"prefix of {prefix.size} entries is not in a tree of {tree_size}"
        )
    known = prefix.nodes()

    def node(level: int, index: int) -> bytes:
        start, end = index << level, (index + 1) << level
        if end <= prefix.size:
            h = known.get((level, index))
            if h is None:
                raise MalformedProofError(f"subtree ({level}, {index}) is inside a prefix node")
            return h
        if start >= prefix.size:
            return right(level, index)
        return prefix.rule.node(node(level - 1, 2 * index), node(level - 1, 2 * index + 1))

    return merkle.tree_root(tree_size, node, prefix.rule)


def right_nodes(prefix: Prefix, tree_size: int) -> list[Node]:
    """The complete subtrees right of the prefix that root_with_right needs, for a tree of size."""
    needed: list[Node] = []

    def record(level: int, index: int) -> bytes:
        needed.append((level, index))
        return _PLACEHOLDER

    _root_with(prefix, tree_size, record)
    return needed


def root_with_right(prefix: Prefix, tree_size: int, right: Callable[[int, int], bytes]) -> bytes:
    """The root of the tree of tree_size from the prefix and the subtrees right of it."""
    return _root_with(prefix, tree_size, right)


def bundle_leaf_hashes(bundle: bytes, count: int) -> bytes:
    """The leaf hashes of an entry bundle that must hold exactly count entries.

    Equivalent to leaf_hashes(tlog.tiles.decode_entry_bundle(bundle, count)),
    fused into one pass that builds no entry objects: the audit's hot loop.
    """
    prefixed, view = hashlib.sha256(b"\x00"), memoryview(bundle)
    out: list[bytes] = []
    offset, end = 0, len(bundle)
    for i in range(count):
        start = offset + 2
        if start > end:
            raise TileError(f"entry bundle truncated: no length for entry {i} at byte {offset}")
        offset = start + (bundle[offset] << 8 | bundle[offset + 1])
        if offset > end:
            raise TileError(f"entry bundle truncated: entry {i} at byte {start} runs past the end")
        h = prefixed.copy()
        h.update(view[start:offset])
        out.append(h.digest())
    if offset != end or not count:
        raise TileError(f"entry bundle does not hold exactly {count} entries ({end} bytes)")
    return b"".join(out)
