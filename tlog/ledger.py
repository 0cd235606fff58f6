"""Ledger sources: the one interface through which feeders and monitors read any log.

A ledger is anything that publishes signed tree heads over an append-only Merkle
tree: a tlog-tiles log, an RFC 6962 Certificate Transparency log, a static-CT
log, a CCF ledger or a SCITT transparency service. Each kind has one
implementation of `LedgerSource`; nothing above `tlog` knows which kind it reads.

Every kind presents its signed head as a C2SP checkpoint note signed by the log
(`fetch_checkpoint`): tiles logs publish one, CT heads are converted to a
checkpoint with a type 0x05 signature, CCF and SCITT signed roots carry their
COSE signature in a note signature line. So the witness's verification, its
compare-and-swap and gossip evidence stay the same for every kind.

`open_source` builds the source for a `kind` name; the implementations are
imported lazily so that a process only loads the kinds it follows.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Sequence
from typing import Protocol, runtime_checkable

import httpx

from tlog.checkpoint import SignedCheckpoint
from tlog.errors import MalformedProofError, TlogError
from tlog.merkle import HashRule, prefix_root_from_inclusion_proof
from tlog.note import Verifier


class UnknownLedgerKindError(TlogError):
    """A ledger kind that no implementation exists for."""


@runtime_checkable
class LedgerSource(Protocol):
    """Reads one ledger; its proofs and entries are only as good as the head checked against."""

    kind: str
    """The `kind` name this source implements (a key of LEDGER_KINDS)."""
    hash_rule: HashRule
    """How entries hash into the tree (CCF for CCF ledgers; RFC 6962 for every other kind)."""

    async def fetch_checkpoint(self) -> SignedCheckpoint:
        """The ledger's latest signed head as a checkpoint whose log signature verified.

        Raises a TlogError for a bad or unsigned head, a LogClientError when the
        ledger cannot be read.
        """
        ...

    async def consistency_proof(
        self, old_size: int, new_size: int, tree_size: int | None = None
    ) -> list[bytes]:
        """The RFC 9162 consistency proof from old_size to new_size.

        tree_size is the size of the verified head the proof is read under
        (default new_size); sources that compute proofs on the server ignore it.
        """
        ...

    def entries(self, start: int, end: int, tree_size: int | None = None) -> AsyncIterator[bytes]:
        """Yield entries start..end-1 in order; `leaf_hash(entry)` is each one's tree leaf."""
        ...

    def leaf_hash(self, entry: bytes) -> bytes:
        """The Merkle leaf hash of one entry as `entries` yields it."""
        ...

    async def inclusion_proof(
        self, index: int, size: int, tree_size: int | None = None
    ) -> list[bytes]:
        """The RFC 9162 inclusion proof of entry index in the tree of size (monitors prove
        findings with it); unverified until checked against a verified head."""
        ...

    async def tree_root(self, size: int, tree_size: int | None = None) -> bytes:
        """The root of the first `size` entries of the tree of tree_size (gossip proves a fork
        seen from a power-of-two size with it); unverified until a proof joins it to a head."""
        ...

    async def aclose(self) -> None:
        """Release connections the source opened itself."""
        ...


LEDGER_KINDS: dict[str, str] = {
    "tiles": "tlog.tiles_client:TiledLogClient",
    "ct": "tlog.ct.client:CTLogClient",
    "static-ct": "tlog.ct.static_client:StaticCTClient",
    "scitt": "tlog.scitt.source:ScittSource",
    "ccf": "tlog.ccf.source:CcfLedgerSource",
}
"""kind name -> "module:class" of its LedgerSource implementation."""


def open_source(
    kind: str,
    url: str,
    verifiers: Sequence[Verifier],
    http: httpx.AsyncClient | None = None,
    *,
    origin: str | None = None,
    timeout: float = 10.0,
) -> LedgerSource:
    """The LedgerSource of `kind` reading the ledger at `url`, trusting `verifiers`.

    Every implementation takes these arguments; with `origin` set, a head of
    another origin is rejected. Raises UnknownLedgerKindError for an unknown kind.
    """
    target = LEDGER_KINDS.get(kind)
    if target is None:
        known = ", ".join(sorted(LEDGER_KINDS))
        raise UnknownLedgerKindError(f"unknown ledger kind {kind!r} (known: {known})")
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    source: LedgerSource = cls(url, verifiers, http, origin=origin, timeout=timeout)
    return source


async def prefix_root_from_proofs(source: LedgerSource, size: int, tree_size: int) -> bytes:
    """The root of the first `size` entries of the tree of tree_size, from the source's
    entry size-1 and its inclusion proof at tree_size (the proof's left siblings).

    For sources without tree hashes (ct, scitt): gossip needs this root to prove a fork
    from a power-of-two size. Unverified: a wrong value cannot pass the consistency proof
    it is checked with.
    """
    if not 0 <= size <= tree_size:
        raise MalformedProofError(f"no prefix of size {size} in a tree of size {tree_size}")
    if size == 0:
        return source.hash_rule.empty
    (entry,) = [e async for e in source.entries(size - 1, size, tree_size)]
    proof = await source.inclusion_proof(size - 1, tree_size)
    return prefix_root_from_inclusion_proof(
        source.leaf_hash(entry), size - 1, tree_size, proof, source.hash_rule
    )
