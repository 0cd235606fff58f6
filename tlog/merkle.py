"""Merkle trees, inclusion proofs and consistency proofs, per RFC 6962 and RFC 9162.

The tree over leaf hashes D[0:n] is the RFC 6962 Merkle Tree Hash:
MTH(D[0:1]) = D[0] and, for n > 1 with k the largest power of two smaller than n,
MTH(D[0:n]) = node(MTH(D[0:k]), MTH(D[k:n])). The empty tree's hash is the rule's
``empty`` value. Only the two hash functions change between ecosystems (HashRule);
the tree shape and the proof algorithms are the same for all of them.

Proofs are generated from a NodeHash: ``node_hash(level, index)`` is the hash of the
complete subtree of 2**level leaves starting at leaf index * 2**level. Every subtree
an RFC 6962 proof needs is composed from such complete subtrees, so the same code
generates proofs from a MemoryTree or from tlog-tiles (tlog.tiles.TileHashReader).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from tlog.errors import MalformedProofError, ProofError

HASH_SIZE = 32

NodeHash = Callable[[int, int], bytes]
"""``node_hash(level, index)``: hash of the complete subtree over leaves
[index * 2**level, (index + 1) * 2**level)."""


@dataclass(frozen=True, slots=True)
class HashRule:
    """The two hash functions of a Merkle tree and the hash of the empty tree.

    ``leaf(d)`` is SHA-256(leaf_prefix || d), or, when leaf_prefix is None, d itself,
    which must then already be a 32-byte digest. ``node(l, r)`` is
    SHA-256(node_prefix || l || r).
    """

    name: str
    leaf_prefix: bytes | None
    node_prefix: bytes
    empty: bytes

    def leaf(self, data: bytes) -> bytes:
        """The leaf hash of one entry."""
        if self.leaf_prefix is None:
            _check_hash(f"{self.name} leaf", data)
            return bytes(data)
        return hashlib.sha256(self.leaf_prefix + data).digest()

    def node(self, left: bytes, right: bytes) -> bytes:
        """The hash of an interior node from its left and right children."""
        return hashlib.sha256(self.node_prefix + left + right).digest()


RFC6962 = HashRule(
    name="rfc6962",
    leaf_prefix=b"\x00",
    node_prefix=b"\x01",
    empty=hashlib.sha256(b"").digest(),
)
"""RFC 6962: leaf = SHA-256(0x00 || d), node = SHA-256(0x01 || l || r), empty = SHA-256("")."""

CCF = HashRule(name="ccf", leaf_prefix=None, node_prefix=b"", empty=bytes(HASH_SIZE))
"""CCF ledgers: leaves are 32-byte digests used as they are, node = SHA-256(l || r).

CCF never signs the root of an empty tree; its ``empty`` is 32 zero bytes by this
module's convention, so that a size-0 tree still has a well-defined hash.
"""


def _check_hash(what: str, h: object) -> None:
    if not isinstance(h, bytes | bytearray):
        raise MalformedProofError(f"{what} is a {type(h).__name__}, not bytes")
    if len(h) != HASH_SIZE:
        raise MalformedProofError(f"{what} is {len(h)} bytes, want {HASH_SIZE}")


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode("ascii")


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(start: int, end: int, node_hash: NodeHash, rule: HashRule) -> bytes:
    n = end - start
    level = n.bit_length() - 1
    if n == 1 << level and start & (n - 1) == 0:
        return node_hash(level, start >> level)
    k = _split(n)
    return rule.node(_mth(start, start + k, node_hash, rule), _mth(start + k, end, node_hash, rule))


def subtree_hash(start: int, end: int, node_hash: NodeHash, rule: HashRule = RFC6962) -> bytes:
    """MTH(D[start:end]) for 0 <= start < end, composed from complete subtrees.

    Ranges that proofs use (start a multiple of the largest power of two not above
    end - start) need at most one node_hash call per set bit of end - start.
    """
    if not 0 <= start < end:
        raise MalformedProofError(f"subtree [{start}, {end}) is empty or negative")
    return _mth(start, end, node_hash, rule)


def tree_root(size: int, node_hash: NodeHash, rule: HashRule = RFC6962) -> bytes:
    """MTH(D[0:size]); rule.empty for size 0."""
    if size < 0:
        raise MalformedProofError(f"tree size {size} is negative")
    if size == 0:
        return rule.empty
    return _mth(0, size, node_hash, rule)


def inclusion_proof(
    index: int, size: int, node_hash: NodeHash, rule: HashRule = RFC6962
) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 section 2.1.3.1, deepest sibling first.

    For k the largest power of two smaller than n: PATH(m, D[0:n]) is
    PATH(m, D[0:k]) + [MTH(D[k:n])] if m < k, else PATH(m - k, D[k:n]) + [MTH(D[0:k])];
    PATH(0, D[0:1]) is empty.
    """
    if not 0 <= index < size:
        raise MalformedProofError(f"leaf index {index} is not in a tree of size {size}")
    siblings: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        mid = start + _split(end - start)
        if index < mid:
            siblings.append(_mth(mid, end, node_hash, rule))
            end = mid
        else:
            siblings.append(_mth(start, mid, node_hash, rule))
            start = mid
    siblings.reverse()
    return siblings


def consistency_proof(
    old_size: int, new_size: int, node_hash: NodeHash, rule: HashRule = RFC6962
) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]) of RFC 9162 section 2.1.4.1.

    PROOF(m, D[n]) = SUBPROOF(m, D[n], true); SUBPROOF(m, D[m], b) is empty if b, else
    [MTH(D[m])]; for m < n and k the largest power of two smaller than n,
    SUBPROOF(m, D[0:n], b) is SUBPROOF(m, D[0:k], b) + [MTH(D[k:n])] if m <= k, else
    SUBPROOF(m - k, D[k:n], false) + [MTH(D[0:k])]. The proof is empty when
    old_size == 0 or old_size == new_size.
    """
    if not 0 <= old_size <= new_size:
        raise MalformedProofError(
            f"no consistency proof from size {old_size} to size {new_size}: "
            "sizes must satisfy 0 <= old <= new"
        )
    if old_size in (0, new_size):
        return []
    proof: list[bytes] = []
    start, end, m, whole = 0, new_size, old_size, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append(_mth(start + k, end, node_hash, rule))
            end = start + k
        else:
            proof.append(_mth(start, start + k, node_hash, rule))
            start, m, whole = start + k, m - k, False
    if not whole:
        proof.append(_mth(start, end, node_hash, rule))
    proof.reverse()
    return proof


def _inclusion_steps(index: int, size: int) -> list[bool]:
    """For each inclusion proof hash, whether it is the left child (RFC 9162 2.1.3.2)."""
    fn, sn = index, size - 1
    steps: list[bool] = []
    while sn:
        left = bool(fn & 1) or fn == sn
        steps.append(left)
        if left:
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        fn, sn = fn >> 1, sn >> 1
    return steps


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], rule: HashRule = RFC6962
) -> bytes:
    """The root that proof implies for leaf_hash at index in a tree of size (RFC 9162 2.1.3.2).

    The proof must have exactly as many hashes as the algorithm consumes for
    (index, size); otherwise MalformedProofError.
    """
    _check_hash("leaf hash", leaf_hash)
    if not 0 <= index < size:
        raise MalformedProofError(f"leaf index {index} is not in a tree of size {size}")
    steps = _inclusion_steps(index, size)
    if len(proof) != len(steps):
        raise MalformedProofError(
            f"inclusion proof for leaf {index} in a tree of size {size} has "
            f"{len(proof)} hashes, want {len(steps)}"
        )
    r = bytes(leaf_hash)
    for i, (p, left) in enumerate(zip(proof, steps, strict=True)):
        _check_hash(f"inclusion proof hash {i}", p)
        r = rule.node(p, r) if left else rule.node(r, p)
    return r


def prefix_root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], rule: HashRule = RFC6962
) -> bytes:
    """MTH(D[0:index+1]) from leaf index's inclusion proof in the tree of size.

    The proof's left siblings are the complete subtrees that [0, index) decomposes
    into, so folding only them onto the leaf gives the root of the first index+1
    leaves. The value is only as good as the proof: check the proof against the
    tree's root (root_from_inclusion_proof) before trusting it. The proof must
    have exactly as many hashes as the algorithm consumes (MalformedProofError).
    """
    _check_hash("leaf hash", leaf_hash)
    if not 0 <= index < size:
        raise MalformedProofError(f"leaf index {index} is not in a tree of size {size}")
    steps = _inclusion_steps(index, size)
    if len(proof) != len(steps):
        raise MalformedProofError(
            f"inclusion proof for leaf {index} in a tree of size {size} has "
            f"{len(proof)} hashes, want {len(steps)}"
        )
    r = bytes(leaf_hash)
    for i, (p, left) in enumerate(zip(proof, steps, strict=True)):
        _check_hash(f"inclusion proof hash {i}", p)
        if left:
            r = rule.node(p, r)
    return r


def verify_inclusion(
    leaf_hash: bytes,
    index: int,
    size: int,
    proof: Sequence[bytes],
    root: bytes,
    rule: HashRule = RFC6962,
) -> None:
    """Check that leaf_hash is leaf number index of the tree of size with this root.

    Raises MalformedProofError for a structurally wrong proof and ProofError when
    the proof does not lead to root.
    """
    _check_hash("root", root)
    got = root_from_inclusion_proof(leaf_hash, index, size, proof, rule)
    if got != root:
        raise ProofError(
            f"inclusion proof for leaf {index} in a tree of size {size} leads to root "
            f"{_b64(got)}, not {_b64(root)}"
        )


def _consistency_steps(old_size: int, new_size: int) -> list[bool]:
    """For each proof hash after the first, whether it updates both roots (RFC 9162 2.1.4.2)."""
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    steps: list[bool] = []
    while sn:
        both = bool(fn & 1) or fn == sn
        steps.append(both)
        if both:
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        fn, sn = fn >> 1, sn >> 1
    return steps


def roots_from_consistency_proof(
    old_size: int,
    new_size: int,
    old_root: bytes,
    proof: Sequence[bytes],
    rule: HashRule = RFC6962,
) -> tuple[bytes, bytes]:
    """The (old root, new root) that a consistency proof implies (RFC 9162 2.1.4.2 fr, sr).

    Requires 0 < old_size < new_size. When old_size is a power of two the proof
    omits the old root and the algorithm starts from old_root, so the first value
    returned is old_root itself. The proof must have exactly as many hashes as the
    algorithm consumes; otherwise MalformedProofError.
    """
    _check_hash("old root", old_root)
    if not 0 < old_size < new_size:
        raise MalformedProofError(
            f"a consistency proof from size {old_size} to size {new_size} has no roots: "
            "sizes must satisfy 0 < old < new"
        )
    steps = _consistency_steps(old_size, new_size)
    power_of_two = old_size & (old_size - 1) == 0
    want = len(steps) if power_of_two else len(steps) + 1
    if len(proof) != want:
        raise MalformedProofError(
            f"consistency proof from size {old_size} to size {new_size} has "
            f"{len(proof)} hashes, want {want}"
        )
    for i, c in enumerate(proof):
        _check_hash(f"consistency proof hash {i}", c)
    path = [bytes(old_root), *proof] if power_of_two else [bytes(c) for c in proof]
    fr = sr = path[0]
    for c, both in zip(path[1:], steps, strict=True):
        if both:
            fr, sr = rule.node(c, fr), rule.node(c, sr)
        else:
            sr = rule.node(sr, c)
    return fr, sr


def verify_consistency(
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
    rule: HashRule = RFC6962,
) -> None:
    """Check that the tree of old_size and old_root is a prefix of new_size and new_root.

    Equal sizes need an empty proof and equal roots. Size 0 is a prefix of every
    tree and needs an empty proof; its root is not checked. Otherwise the proof must
    reproduce both roots (roots_from_consistency_proof). Raises MalformedProofError
    for a structurally wrong proof and ProofError for a proof that does not verify.
    """
    _check_hash("old root", old_root)
    _check_hash("new root", new_root)
    if not 0 <= old_size <= new_size:
        raise MalformedProofError(
            f"old size {old_size} and new size {new_size} must satisfy 0 <= old <= new"
        )
    if old_size in (0, new_size):
        if proof:
            raise MalformedProofError(
                f"consistency proof from size {old_size} to size {new_size} must be empty, "
                f"has {len(proof)} hashes"
            )
        if old_size == new_size and old_root != new_root:
            raise ProofError(
                f"two different roots for size {old_size}: {_b64(old_root)} and {_b64(new_root)}"
            )
        return
    fr, sr = roots_from_consistency_proof(old_size, new_size, old_root, proof, rule)
    wrong = [
        f"{what} root {_b64(got)} instead of {_b64(want)}"
        for what, got, want in (("old", fr, old_root), ("new", sr, new_root))
        if got != want
    ]
    if wrong:
        raise ProofError(
            f"consistency proof from size {old_size} to size {new_size} yields "
            + " and ".join(wrong)
        )


class MemoryTree:
    """An append-only tree of leaf hashes that stores every complete subtree hash.

    Level L holds the hashes of the complete subtrees of 2**L leaves, computed as
    leaves arrive, so appending costs amortised one node hash and node_hash is a
    lookup. Storage is 64 bytes per leaf.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = (), rule: HashRule = RFC6962) -> None:
        self.rule = rule
        self._levels: list[bytearray] = [bytearray()]
        self.extend(leaf_hashes)

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self._levels[0]) // HASH_SIZE

    def append(self, leaf_hash: bytes) -> None:
        """Add one leaf hash at the end, then the hash of every subtree it completes."""
        _check_hash("leaf hash", leaf_hash)
        levels = self._levels
        row = levels[0]
        row += leaf_hash
        level = 0
        while not len(row) % (2 * HASH_SIZE):
            h = self.rule.node(row[-2 * HASH_SIZE : -HASH_SIZE], row[-HASH_SIZE:])
            level += 1
            if level == len(levels):
                levels.append(bytearray())
            row = levels[level]
            row += h

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append each leaf hash in order; a malformed one stops it, keeping those before.

        Hashes level by level in one tight loop per level, which is what makes
        building a large tree run near the raw SHA-256 rate.
        """
        batch = bytearray()
        bad: MalformedProofError | None = None
        for h in leaf_hashes:
            try:
                _check_hash("leaf hash", h)
            except MalformedProofError as e:
                bad = e
                break
            batch += h
        levels = self._levels
        levels[0] += batch
        sha, prefix, pair = hashlib.sha256, self.rule.node_prefix, 2 * HASH_SIZE
        level = 0
        while len(levels[level]) >= pair:
            if level + 1 == len(levels):
                levels.append(bytearray())
            row, parents = levels[level], levels[level + 1]
            done = len(parents) // HASH_SIZE
            for i in range(done * pair, len(row) // pair * pair, pair):
                parents += sha(prefix + row[i : i + pair]).digest()
            level += 1
        if bad is not None:
            raise bad

    def node_hash(self, level: int, index: int) -> bytes:
        """The hash of complete subtree (level, index); see NodeHash."""
        row = self._levels[level] if 0 <= level < len(self._levels) else b""
        offset = index * HASH_SIZE
        if index < 0 or offset + HASH_SIZE > len(row):
            raise MalformedProofError(
                f"no complete subtree at level {level}, index {index} in a tree of size {self.size}"
            )
        return bytes(row[offset : offset + HASH_SIZE])

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise MalformedProofError(f"tree size {size} is not in 0..{self.size}")

    def root(self, size: int | None = None) -> bytes:
        """The root of the first size leaves (default: all of them)."""
        size = self.size if size is None else size
        self._check_size(size)
        return tree_root(size, self.node_hash, self.rule)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """The inclusion proof of leaf index in the tree of the first size leaves."""
        self._check_size(size)
        return inclusion_proof(index, size, self.node_hash, self.rule)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """The consistency proof from the first old_size to the first new_size leaves."""
        self._check_size(new_size)
        return consistency_proof(old_size, new_size, self.node_hash, self.rule)


class CompactTree:
    """A tree kept as its right edge: O(log n) state, enough to append and to hash the root.

    The state is the size and one hash per set bit of the size: the complete
    subtrees that the leaves decompose into, largest (leftmost) first.
    """

    def __init__(
        self, size: int = 0, hashes: Sequence[bytes] = (), rule: HashRule = RFC6962
    ) -> None:
        if size < 0:
            raise MalformedProofError(f"tree size {size} is negative")
        if len(hashes) != size.bit_count():
            raise MalformedProofError(
                f"a compact tree of size {size} has {size.bit_count()} hashes, got {len(hashes)}"
            )
        for i, h in enumerate(hashes):
            _check_hash(f"compact tree hash {i}", h)
        self.rule = rule
        self._size = size
        self._hashes = [bytes(h) for h in hashes]

    @property
    def size(self) -> int:
        """The number of leaves."""
        return self._size

    @property
    def state(self) -> tuple[int, tuple[bytes, ...]]:
        """(size, hashes): pass them back to the constructor to resume."""
        return self._size, tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> None:
        """Add one leaf hash at the end."""
        _check_hash("leaf hash", leaf_hash)
        h = bytes(leaf_hash)
        s = self._size
        while s & 1:
            h = self.rule.node(self._hashes.pop(), h)
            s >>= 1
        self._hashes.append(h)
        self._size += 1

    def root(self) -> bytes:
        """The root hash: the edge hashes folded right to left."""
        if not self._hashes:
            return self.rule.empty
        r = self._hashes[-1]
        for h in reversed(self._hashes[:-1]):
            r = self.rule.node(h, r)
        return r
