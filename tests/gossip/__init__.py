"""Builders shared by the gossip tests: one log with two histories that share a prefix,
checkpoints it signs, and witnesses that cosign them. Keys are fixed, so files are stable."""

from __future__ import annotations

from tlog.checkpoint import Checkpoint
from tlog.cosignature import CosignatureV1Signer
from tlog.keys import Ed25519Signer
from tlog.merkle import RFC6962, MemoryTree
from tlog.note import Note, Signature, parse_note, sign_note

LOG = Ed25519Signer("example.com/log", bytes(range(32)))
ORIGIN = LOG.name
LOG_VERIFIERS = [LOG.verifier()]
OTHER_LOG = Ed25519Signer("example.com/other", bytes(range(1, 33)))
WITNESS_KEYS = [Ed25519Signer(f"w{i}.example/witness", bytes([i + 1]) * 32) for i in range(4)]
COSIGNERS = [CosignatureV1Signer(k, clock=lambda: 1_700_000_000) for k in WITNESS_KEYS]
WITNESSES = [c.verifier() for c in COSIGNERS]


def leaves(branch: str, start: int, stop: int) -> list[bytes]:
    """Leaf hashes of entries `branch start` .. `branch stop-1`."""
    return [RFC6962.leaf(f"{branch} {i}".encode()) for i in range(start, stop)]


def forked(common: int, total: int) -> tuple[MemoryTree, MemoryTree]:
    """Two trees of `total` leaves that agree on the first `common` and differ after."""
    shared = leaves("common", 0, common)
    return (
        MemoryTree(shared + leaves("a", common, total)),
        MemoryTree(shared + leaves("b", common, total)),
    )


def checkpoint(tree: MemoryTree, size: int, signer: Ed25519Signer = LOG) -> bytes:
    """The note of the tree's first `size` leaves, signed by `signer` (origin = its name)."""
    body = Checkpoint(signer.name, size, tree.root(size)).body()
    return sign_note(body, [signer]).to_bytes()


def cosign(note: bytes, *cosigners: CosignatureV1Signer) -> bytes:
    """The note with a cosignature line by each of `cosigners` appended."""
    n = parse_note(note)
    text = n.text.encode()
    extra = tuple(Signature(c.name, c.key_id, c.sign(text)) for c in cosigners)
    return Note(n.text, n.signatures + extra).to_bytes()
