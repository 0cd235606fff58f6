"""Tests for tlog.merkle: spec constants, real proofs, and RFC 6962 properties.

The oracle is a direct transcription of the recursive definitions of RFC 9162
section 2.1 (MTH, PATH, PROOF/SUBPROOF) over a plain list of leaf hashes.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.vectors import VECTORS_DIR, load
from tlog.errors import MalformedProofError, ProofError
from tlog.merkle import (
    CCF,
    RFC6962,
    CompactTree,
    HashRule,
    MemoryTree,
    consistency_proof,
    inclusion_proof,
    root_from_inclusion_proof,
    roots_from_consistency_proof,
    subtree_hash,
    tree_root,
    verify_consistency,
    verify_inclusion,
)


def b64(s: str) -> bytes:
    return base64.b64decode(s, validate=True)


# --- the oracle -------------------------------------------------------------------------


def largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def naive_mth(leaves: list[bytes], rule: HashRule = RFC6962) -> bytes:
    if not leaves:
        return rule.empty
    if len(leaves) == 1:
        return leaves[0]
    k = largest_power_of_two_below(len(leaves))
    return rule.node(naive_mth(leaves[:k], rule), naive_mth(leaves[k:], rule))


def naive_path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = largest_power_of_two_below(len(leaves))
    if m < k:
        return [*naive_path(m, leaves[:k]), naive_mth(leaves[k:])]
    return [*naive_path(m - k, leaves[k:]), naive_mth(leaves[:k])]


def naive_subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    if m == len(leaves):
        return [] if whole else [naive_mth(leaves)]
    k = largest_power_of_two_below(len(leaves))
    if m <= k:
        return [*naive_subproof(m, leaves[:k], whole), naive_mth(leaves[k:])]
    return [*naive_subproof(m - k, leaves[k:], False), naive_mth(leaves[:k])]


def naive_consistency(m: int, leaves: list[bytes]) -> list[bytes]:
    if m in (0, len(leaves)):
        return []
    return naive_subproof(m, leaves, True)


def leaves_from_seed(seed: int, n: int) -> list[bytes]:
    return [hashlib.sha256(b"%d/%d" % (seed, i)).digest() for i in range(n)]


MAX_SIZE = 2048
LEAVES = leaves_from_seed(0, MAX_SIZE)
TREE = MemoryTree(LEAVES)


def flip(h: bytes, byte: int) -> bytes:
    return h[:byte] + bytes([h[byte] ^ 1]) + h[byte + 1 :]


# --- spec constants and real vectors ------------------------------------------------------


def derived_constant(key: str) -> str:
    """A value of the derived-constants section of c2sp-spec-examples.txt."""
    prefix = key + " "
    (value,) = (
        line.removeprefix(prefix)
        for line in load("c2sp-spec-examples.txt").lines("derived-constants")
        if line.startswith(prefix)
    )
    return value


def test_spec_constants() -> None:
    empty = b64(derived_constant("empty-tree-root-b64"))
    assert RFC6962.empty == empty
    assert tree_root(0, TREE.node_hash) == empty
    assert MemoryTree().root() == empty
    assert CompactTree().root() == empty
    hello = b64(derived_constant("rfc6962-leaf-hash('hello world')-b64"))
    assert RFC6962.leaf(b"hello world") == hello
    assert MemoryTree([hello]).root() == hello


def test_rfc6962_rule_is_prefixed_sha256() -> None:
    left, right = b"L" * 32, b"R" * 32
    assert RFC6962.leaf(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert RFC6962.node(left, right) == hashlib.sha256(b"\x01" + left + right).digest()


def test_monkeys_consistency_5_to_8() -> None:
    v = load("monkeys-consistency-5-to-8.txt")
    old, new = b64(v.lines("checkpoint-5")[2]), b64(v.lines("checkpoint-8")[2])
    proof = [bytes.fromhex(line) for line in v.lines("consistency-proof-hex")]
    assert proof == [b64(line) for line in v.lines("consistency-proof-b64")]
    verify_consistency(5, 8, old, new, proof)
    assert roots_from_consistency_proof(5, 8, old, proof) == (old, new)
    for i in range(len(proof)):
        tampered = [*proof[:i], flip(proof[i], 31), *proof[i + 1 :]]
        with pytest.raises(ProofError, match="from size 5 to size 8"):
            verify_consistency(5, 8, old, new, tampered)
    with pytest.raises(ProofError):
        verify_consistency(5, 8, new, old, proof)


def add_checkpoint_request(section: str) -> tuple[int, list[bytes], int, bytes]:
    """(old size, proof, new size, new root) of a litewitness add-checkpoint request body."""
    head, note = load("litewitness-add-checkpoint-sequence.txt").text(section).split("\n\n", 1)
    old_line, *proof_lines = head.split("\n")
    _origin, size, root = note.split("\n")[:3]
    return int(old_line.removeprefix("old ")), [b64(h) for h in proof_lines], int(size), b64(root)


# litewitness-add-checkpoint-sequence.txt: the log's leaf hashes are the synthetic values
# 0x2a, i, 0, ..., 0. Requests 6 and 8 are accepted; request 7 (a valid proof from 1 to 5)
# is answered 409 only because the witness was then at size 3.
LITE_LEAVES = [bytes([0x2A, i]) + bytes(30) for i in range(5)]


@pytest.mark.parametrize("section", ["request-6", "request-7", "request-8"])
def test_litewitness_roots_and_proofs_byte_for_byte(section: str) -> None:
    old, proof, new, root = add_checkpoint_request(section)
    tree = MemoryTree(LITE_LEAVES)
    assert tree.root(new) == root
    assert tree.consistency_proof(old, new) == proof
    verify_consistency(old, new, tree.root(old), root, proof)


def test_litewitness_bad_proofs_rejected() -> None:
    tree = MemoryTree(LITE_LEAVES)
    _, first, _, _ = add_checkpoint_request("request-1")
    assert first == []
    old, corrupted, new, root = add_checkpoint_request("request-5")
    assert (old, new, root) == (1, 3, tree.root(3))
    with pytest.raises(ProofError, match="new root") as e:
        verify_consistency(old, new, tree.root(old), root, corrupted)
    assert not isinstance(e.value, MalformedProofError)
    old, missing, new, root = add_checkpoint_request("request-4")
    with pytest.raises(MalformedProofError, match="has 0 hashes, want 2"):
        verify_consistency(old, new, tree.root(old), root, missing)


# --- the CCF rule -------------------------------------------------------------------------


def test_ccf_three_leaves_by_hand() -> None:
    a, b, c = (bytes([x]) * 32 for x in b"abc")
    ab = hashlib.sha256(a + b).digest()
    root = hashlib.sha256(ab + c).digest()
    tree = MemoryTree([CCF.leaf(x) for x in (a, b, c)], rule=CCF)
    assert tree.root() == root
    assert tree.inclusion_proof(2, 3) == [ab]
    assert tree.inclusion_proof(0, 3) == [b, c]
    verify_inclusion(c, 2, 3, [ab], root, rule=CCF)
    verify_inclusion(a, 0, 3, [b, c], root, rule=CCF)
    assert tree.consistency_proof(2, 3) == [c]
    verify_consistency(2, 3, ab, root, [c], rule=CCF)
    compact = CompactTree(rule=CCF)
    for x in (a, b, c):
        compact.append(x)
    assert compact.root() == root
    assert CCF.empty == bytes(32)
    with pytest.raises(ProofError):
        verify_inclusion(c, 2, 3, [ab], root)  # the RFC 6962 rule gives another root


def test_ccf_leaf_must_be_a_digest() -> None:
    assert CCF.leaf(b"x" * 32) == b"x" * 32
    with pytest.raises(MalformedProofError, match="31 bytes"):
        CCF.leaf(b"x" * 31)


def test_ccf_real_ledger_consistency_15_to_26() -> None:
    """ccf-ledger-expired-service/README.txt: signed roots 2.15 and 2.26 of a real CCF ledger
    and the RFC 9162 consistency proof between them over unprefixed SHA-256."""
    readme = (VECTORS_DIR / "ccf-ledger-expired-service" / "README.txt").read_text()
    old, new = (bytes.fromhex(h) for h in re.findall(r"2\.(?:15|26) ([0-9a-f]{64})", readme))
    proof = [bytes.fromhex(h) for h in re.findall(r"^ +([0-9a-f]{64})$", readme, re.MULTILINE)]
    assert len(proof) == 6
    verify_consistency(15, 26, old, new, proof, rule=CCF)
    with pytest.raises(ProofError):
        verify_consistency(15, 26, old, new, proof)


# --- generated proofs against the oracle --------------------------------------------------


def test_all_proofs_up_to_64_leaves() -> None:
    for n in range(1, 65):
        leaves = LEAVES[:n]
        root = naive_mth(leaves)
        assert TREE.root(n) == root
        for i in range(n):
            proof = TREE.inclusion_proof(i, n)
            assert proof == naive_path(i, leaves)
            verify_inclusion(leaves[i], i, n, proof, root)
        for m in range(n + 1):
            proof = TREE.consistency_proof(m, n)
            assert proof == naive_consistency(m, leaves)
            verify_consistency(m, n, naive_mth(LEAVES[:m]), root, proof)


index_and_size = st.integers(1, MAX_SIZE).flatmap(
    lambda n: st.tuples(st.integers(0, n - 1), st.just(n))
)
old_and_new = st.integers(2, MAX_SIZE).flatmap(
    lambda n: st.tuples(st.integers(1, n - 1), st.just(n))
)


@settings(max_examples=400, deadline=None)
@given(index_and_size)
def test_inclusion_proof_matches_oracle_and_verifies(case: tuple[int, int]) -> None:
    index, size = case
    proof = inclusion_proof(index, size, TREE.node_hash)
    assert proof == naive_path(index, LEAVES[:size])
    verify_inclusion(LEAVES[index], index, size, proof, naive_mth(LEAVES[:size]))


@settings(max_examples=400, deadline=None)
@given(old_and_new)
def test_consistency_proof_matches_oracle_and_verifies(case: tuple[int, int]) -> None:
    old, new = case
    proof = consistency_proof(old, new, TREE.node_hash)
    assert proof == naive_consistency(old, LEAVES[:new])
    verify_consistency(old, new, TREE.root(old), TREE.root(new), proof)


@settings(max_examples=400, deadline=None)
@given(index_and_size, st.data())
def test_inclusion_tampering_fails(case: tuple[int, int], data: st.DataObject) -> None:
    index, size = case
    proof = TREE.inclusion_proof(index, size)
    root = TREE.root(size)
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1), label="hash")
        byte = data.draw(st.integers(0, 31), label="byte")
        with pytest.raises(ProofError):
            verify_inclusion(
                LEAVES[index],
                index,
                size,
                [*proof[:i], flip(proof[i], byte), *proof[i + 1 :]],
                root,
            )
    with pytest.raises(ProofError):
        verify_inclusion(flip(LEAVES[index], 0), index, size, proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(LEAVES[index], index, size, proof, flip(root, 0))
    if size > 1:
        other_index = data.draw(st.integers(0, size - 2), label="other index")
        other_index += other_index >= index
        with pytest.raises(ProofError):
            verify_inclusion(LEAVES[index], other_index, size, proof, root)
    if index + 1 < MAX_SIZE:
        other_size = data.draw(st.integers(index + 1, MAX_SIZE - 1), label="other size")
        other_size += other_size >= size
        with pytest.raises(ProofError):
            verify_inclusion(LEAVES[index], index, other_size, proof, TREE.root(other_size))
    with pytest.raises(MalformedProofError, match=f"has {len(proof) + 1} hashes"):
        verify_inclusion(LEAVES[index], index, size, [*proof, LEAVES[0]], root)
    if proof:
        with pytest.raises(MalformedProofError, match=f"has {len(proof) - 1} hashes"):
            verify_inclusion(LEAVES[index], index, size, proof[:-1], root)


@settings(max_examples=400, deadline=None)
@given(old_and_new, st.data())
def test_consistency_tampering_fails(case: tuple[int, int], data: st.DataObject) -> None:
    old, new = case
    proof = TREE.consistency_proof(old, new)
    old_root, new_root = TREE.root(old), TREE.root(new)
    i = data.draw(st.integers(0, len(proof) - 1), label="hash")
    byte = data.draw(st.integers(0, 31), label="byte")
    with pytest.raises(ProofError):
        verify_consistency(
            old, new, old_root, new_root, [*proof[:i], flip(proof[i], byte), *proof[i + 1 :]]
        )
    with pytest.raises(ProofError):
        verify_consistency(old, new, flip(old_root, byte), new_root, proof)
    with pytest.raises(ProofError):
        verify_consistency(old, new, old_root, flip(new_root, byte), proof)
    if new > 2:
        other_old = data.draw(st.integers(1, new - 2), label="other old")
        other_old += other_old >= old
        with pytest.raises(ProofError):
            verify_consistency(other_old, new, TREE.root(other_old), new_root, proof)
    if old + 1 < MAX_SIZE:
        other_new = data.draw(st.integers(old + 1, MAX_SIZE - 1), label="other new")
        other_new += other_new >= new
        with pytest.raises(ProofError):
            verify_consistency(old, other_new, old_root, TREE.root(other_new), proof)
    with pytest.raises(MalformedProofError, match=f"has {len(proof) + 1} hashes"):
        verify_consistency(old, new, old_root, new_root, [*proof, LEAVES[0]])
    with pytest.raises(MalformedProofError, match=f"has {len(proof) - 1} hashes"):
        verify_consistency(old, new, old_root, new_root, proof[:-1])


@settings(max_examples=200, deadline=None)
@given(old_and_new, st.binary(min_size=32, max_size=32))
def test_roots_from_consistency_proof_expose_a_forked_old_root(
    case: tuple[int, int], forged: bytes
) -> None:
    """A real proof reproduces the new root and the real old root, never a forged one."""
    old, new = case
    proof = TREE.consistency_proof(old, new)
    fr, sr = roots_from_consistency_proof(old, new, forged, proof)
    if old & (old - 1) == 0:
        assert fr == forged
        assert (sr == TREE.root(new)) == (forged == TREE.root(old))
    else:
        assert (fr, sr) == (TREE.root(old), TREE.root(new))


def test_equal_and_zero_sizes() -> None:
    root = TREE.root(7)
    verify_consistency(7, 7, root, root, [])
    verify_consistency(0, 7, bytes(32), root, [])
    verify_consistency(0, 0, RFC6962.empty, RFC6962.empty, [])
    with pytest.raises(ProofError, match="two different roots for size 7") as e:
        verify_consistency(7, 7, root, TREE.root(6), [])
    assert not isinstance(e.value, MalformedProofError)
    with pytest.raises(MalformedProofError, match="must be empty"):
        verify_consistency(7, 7, root, root, [root])
    with pytest.raises(MalformedProofError, match="must be empty"):
        verify_consistency(0, 7, root, root, [root])
    with pytest.raises(MalformedProofError, match="0 < old < new"):
        roots_from_consistency_proof(7, 7, root, [])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: verify_inclusion(LEAVES[0], 3, 3, [], TREE.root(3)), "leaf index 3"),
        (lambda: verify_inclusion(LEAVES[0], -1, 3, [], TREE.root(3)), "leaf index -1"),
        (lambda: verify_inclusion(LEAVES[0][:31], 0, 1, [], LEAVES[0]), "leaf hash is 31 bytes"),
        (lambda: verify_inclusion(LEAVES[0], 0, 1, [], b""), "root is 0 bytes"),
        (lambda: verify_inclusion(LEAVES[0], 0, 2, [b"x" * 33], LEAVES[0]), "hash 0 is 33 bytes"),
        (lambda: verify_inclusion(LEAVES[0], 0, 2, ["x" * 32], LEAVES[0]), "hash 0 is a str"),
        (lambda: verify_consistency(3, 2, LEAVES[0], LEAVES[0], []), "0 <= old <= new"),
        (lambda: verify_consistency(-1, 2, LEAVES[0], LEAVES[0], []), "0 <= old <= new"),
        (lambda: verify_consistency(1, 2, LEAVES[0], b"", [LEAVES[1]]), "new root is 0 bytes"),
        (lambda: verify_consistency(3, 4, LEAVES[0], LEAVES[1], [b""] * 3), "hash 0 is 0 bytes"),
        (lambda: inclusion_proof(5, 5, TREE.node_hash), "leaf index 5"),
        (lambda: consistency_proof(6, 5, TREE.node_hash), "0 <= old <= new"),
        (lambda: tree_root(-1, TREE.node_hash), "negative"),
        (lambda: subtree_hash(4, 4, TREE.node_hash), r"subtree \[4, 4\)"),
        (lambda: TREE.root(MAX_SIZE + 1), f"not in 0..{MAX_SIZE}"),
        (lambda: TREE.inclusion_proof(0, MAX_SIZE + 1), f"not in 0..{MAX_SIZE}"),
        (lambda: TREE.consistency_proof(1, MAX_SIZE + 1), f"not in 0..{MAX_SIZE}"),
        (lambda: TREE.node_hash(0, MAX_SIZE), "no complete subtree"),
        (lambda: TREE.node_hash(12, 0), "no complete subtree"),
        (lambda: TREE.node_hash(-1, 0), "no complete subtree"),
        (lambda: MemoryTree().append(b"short"), "leaf hash is 5 bytes"),
        (lambda: CompactTree(3, [LEAVES[0]]), "has 2 hashes, got 1"),
        (lambda: CompactTree(1, [b""]), "hash 0 is 0 bytes"),
        (lambda: CompactTree(-1, []), "negative"),
        (lambda: CompactTree().append(b""), "leaf hash is 0 bytes"),
    ],
)
def test_malformed_inputs(call: Callable[[], object], message: str) -> None:
    with pytest.raises(MalformedProofError, match=message):
        call()


hashes = st.one_of(st.binary(min_size=32, max_size=32), st.binary(max_size=40))


@settings(max_examples=500)
@given(
    st.integers(-2, 40) | st.integers(-2, 1 << 64),
    st.integers(-2, 40) | st.integers(-2, 1 << 64),
    hashes,
    hashes,
    st.lists(hashes, max_size=70),
)
def test_verify_raises_only_proof_errors(
    a: int, b: int, h1: bytes, h2: bytes, proof: list[bytes]
) -> None:
    for call in (
        lambda: verify_inclusion(h1, a, b, proof, h2),
        lambda: verify_consistency(a, b, h1, h2, proof),
    ):
        with contextlib.suppress(ProofError):
            call()


# --- trees ---------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 1 << 32), st.integers(0, 1024))
def test_memory_compact_and_naive_roots_agree(seed: int, size: int) -> None:
    leaves = leaves_from_seed(seed, size)
    memory = MemoryTree(leaves)
    compact = CompactTree()
    for leaf in leaves:
        compact.append(leaf)
    assert memory.size == compact.size == size
    assert memory.root() == compact.root() == naive_mth(leaves)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 300), st.integers(0, 300))
def test_compact_tree_resumes_from_state(first: int, more: int) -> None:
    compact = CompactTree()
    for leaf in LEAVES[:first]:
        compact.append(leaf)
    size, edge = compact.state
    assert size == first
    assert len(edge) == first.bit_count()
    resumed = CompactTree(size, edge)
    for leaf in LEAVES[first : first + more]:
        resumed.append(leaf)
    assert resumed.root() == TREE.root(first + more)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(0, MAX_SIZE - 1).flatmap(
        lambda s: st.tuples(st.just(s), st.integers(s + 1, MAX_SIZE))
    )
)
def test_subtree_hash_of_any_range(case: tuple[int, int]) -> None:
    start, end = case
    assert subtree_hash(start, end, TREE.node_hash) == naive_mth(LEAVES[start:end])


def test_append_and_extend_agree_and_prefix_roots_are_stable() -> None:
    one_by_one = MemoryTree()
    for leaf in LEAVES[:300]:
        one_by_one.append(leaf)
    assert one_by_one.root() == TREE.root(300)
    for size in (0, 1, 2, 3, 255, 256, 257, 299, 300):
        assert one_by_one.root(size) == TREE.root(size) == naive_mth(LEAVES[:size])


@settings(max_examples=50, deadline=None)
@given(index_and_size)
def test_root_from_inclusion_proof(case: tuple[int, int]) -> None:
    index, size = case
    proof = TREE.inclusion_proof(index, size)
    assert root_from_inclusion_proof(LEAVES[index], index, size, proof) == TREE.root(size)
