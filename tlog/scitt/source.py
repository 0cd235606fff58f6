"""ScittSource: the LedgerSource of kind "scitt", reading a SCITT service over HTTP.

SCITT services publish no standard "latest tree head" or entry-range API, so
this source reads a minimal read API, documented in docs/scitt.md, that a
service (or a proxy in front of one) can offer. Paths are relative to the base
URL; every COSE body is `application/cose`:

    GET head                              inclusion receipt (RFC9162_SHA256) of the newest
                                          entry: leaf index = tree size - 1
    GET entries/<i>                       entry i: the registered signed statement
    GET entries/<i>/receipt?tree_size=<n> inclusion receipt of entry i at size n
    GET consistency/<m>/<n>               consistency receipt from size m to size n

The head is the service's signed root: this source recomputes the root from
the newest entry and the receipt's proof, repackages the receipt as a
checkpoint note (tlog.scitt.checkpoint) and opens it with the configured note
verifiers, so the witness checks it like any other log's checkpoint. The
origin is the receipt's CWT issuer. Consistency proofs come from consistency
receipts, whose new root must be the signed root of the same size.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import httpx

from tlog.checkpoint import SignedCheckpoint, open_checkpoint
from tlog.errors import CheckpointError, MalformedProofError
from tlog.httpget import ClosesGetter, Getter, LogUnavailableError, status_error
from tlog.merkle import RFC6962
from tlog.note import Verifier
from tlog.scitt.checkpoint import receipt_to_checkpoint
from tlog.scitt.errors import MalformedReceiptError, ReceiptProofError
from tlog.scitt.receipt import (
    VDS_RFC9162_SHA256,
    Receipt,
    SignedRoot,
    parse_receipt,
    verify_inclusion_receipt,
)

MAX_BODY = 1 << 20


class ScittSource(ClosesGetter):
    """Reads one SCITT service at base_url whose signed roots `verifiers` check."""

    kind = "scitt"
    hash_rule = RFC6962

    def __init__(
        self,
        base_url: str,
        verifiers: Sequence[Verifier],
        client: httpx.AsyncClient | None = None,
        *,
        origin: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.verifiers = tuple(verifiers)
        self.origin = origin
        self.timeout = timeout
        self._getter = Getter(self.base_url, client, timeout=timeout, retries=0)

    async def _get(self, path: str) -> bytes:
        """The body of GET path: one attempt; not 200 or over MAX_BODY bytes is an error."""
        status, body = await self._getter.once(path, MAX_BODY)
        if status != 200:
            raise status_error(self._getter.url(path), status, body)
        if len(body) > MAX_BODY:
            raise LogUnavailableError(self._getter.url(path), f"body over {MAX_BODY} bytes")
        return body

    async def _receipt(self, path: str) -> Receipt:
        receipt = parse_receipt(await self._get(path), f"{self.base_url}/{path}")
        if receipt.vds != VDS_RFC9162_SHA256:
            raise MalformedReceiptError(
                f"{self.base_url}/{path}: {receipt.tree_alg} receipts are not read by the scitt "
                "kind (it follows RFC9162_SHA256 services; CCF services are the ccf kind)"
            )
        return receipt

    async def fetch_head(self) -> tuple[Receipt, SignedRoot]:
        """The newest signed root, its proof checked from the newest entry; signature unchecked."""
        receipt = await self._receipt("head")
        if len(receipt.inclusion) != 1:
            raise MalformedReceiptError(f"{self.base_url}/head must hold one inclusion proof")
        proof = receipt.inclusion[0]
        size, index = proof.tree_size, proof.leaf_index  # type: ignore[union-attr]
        if index != size - 1:
            raise MalformedReceiptError(
                f"{self.base_url}/head proves leaf {index} of {size}, not the newest entry"
            )
        entry = await self._get(f"entries/{index}")
        return receipt, verify_inclusion_receipt(receipt, None, entry=entry)

    async def fetch_checkpoint(self) -> SignedCheckpoint:
        """The newest signed root as a checkpoint note, its signature checked by the verifiers."""
        receipt, signed = await self.fetch_head()
        origin = receipt.issuer
        if origin is None:
            raise CheckpointError(f"{self.base_url}/head has no CWT issuer to use as origin")
        if self.origin is not None and origin != self.origin:
            raise CheckpointError(
                f"{self.base_url}/head is from issuer {origin!r}, want {self.origin!r}"
            )
        keys = [(v.name, v.key_id) for v in self.verifiers]
        note = receipt_to_checkpoint(receipt, signed, origin, keys)
        return open_checkpoint(note, self.verifiers)

    async def inclusion_receipt(self, index: int, tree_size: int) -> Receipt:
        """The service's inclusion receipt of entry index at tree_size (unverified)."""
        return await self._receipt(f"entries/{index}/receipt?tree_size={tree_size}")

    async def inclusion_proof(
        self, index: int, size: int, tree_size: int | None = None
    ) -> list[bytes]:
        """The RFC 9162 inclusion proof of entry index at size, from an inclusion receipt.

        The receipt's proof must name that index and size; the caller checks the path
        against a verified head (monitors do, for findings).
        """
        if not 0 <= index < size:
            raise MalformedProofError(f"index {index} is not in a tree of size {size}")
        receipt = await self.inclusion_receipt(index, size)
        if len(receipt.inclusion) != 1:
            raise MalformedReceiptError("inclusion receipt must hold exactly one proof")
        proof = receipt.inclusion[0]
        got = (proof.leaf_index, proof.tree_size)  # type: ignore[union-attr]
        if got != (index, size):
            raise ReceiptProofError(
                f"asked for the inclusion of {index} at size {size}, got {got[0]} at {got[1]}"
            )
        return list(proof.path)  # type: ignore[union-attr]

    async def tree_root(self, size: int, tree_size: int | None = None) -> bytes:
        """The root of the first size entries of the tree of tree_size (unverified), from
        entry size-1 and its inclusion receipt: gossip's prefix root for fork evidence."""
        from tlog.ledger import prefix_root_from_proofs

        return await prefix_root_from_proofs(self, size, size if tree_size is None else tree_size)

    async def consistency_proof(
        self, old_size: int, new_size: int, tree_size: int | None = None
    ) -> list[bytes]:
        """The RFC 9162 consistency proof from old_size to new_size, from a consistency receipt.

        The receipt's proof must match its sizes; the caller checks the proof
        against the two verified heads, as for every ledger kind.
        """
        if not 0 <= old_size <= new_size:
            raise MalformedProofError(f"no consistency proof from {old_size} to {new_size}")
        if old_size in (0, new_size):
            return []
        receipt = await self._receipt(f"consistency/{old_size}/{new_size}")
        if len(receipt.consistency) != 1:
            raise MalformedReceiptError("consistency receipt must hold exactly one proof")
        proof = receipt.consistency[0]
        if (proof.tree_size_1, proof.tree_size_2) != (old_size, new_size):
            raise ReceiptProofError(
                f"asked for consistency {old_size} -> {new_size}, got "
                f"{proof.tree_size_1} -> {proof.tree_size_2}"
            )
        return list(proof.path)

    async def entries(
        self, start: int, end: int, tree_size: int | None = None
    ) -> AsyncIterator[bytes]:
        """Yield entries start..end-1 in order (one request each)."""
        if not 0 <= start <= end:
            raise MalformedProofError(f"entry range [{start}, {end}) is empty or negative")
        for i in range(start, end):
            yield await self._get(f"entries/{i}")

    def leaf_hash(self, entry: bytes) -> bytes:
        """RFC 6962 leaf hash: the entry is the signed statement registered."""
        return RFC6962.leaf(entry)
