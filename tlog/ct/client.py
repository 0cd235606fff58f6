"""An RFC 6962 Certificate Transparency log client: the ledger kind ``ct``.

Reads ``<url>/ct/v1/get-sth``, ``get-sth-consistency``, ``get-entries`` and
``get-proof-by-hash``. The STH is verified with the log's type 0x05 vkey and
returned as the equivalent checkpoint (origin = the vkey's name), so a
witness cosigns CT heads like any checkpoint. Logs cap how many entries one
get-entries answers; a short answer is continued by asking for the rest, and
an empty or overlong one is an error. Entries are the MerkleTreeLeaf bytes
(``leaf_input``); ``entries_with_extra`` also yields each one's extra_data.
Nothing returned is trusted until checked against a verified head.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from tlog import merkle
from tlog.checkpoint import SignedCheckpoint
from tlog.ct.errors import CTFormatError
from tlog.ct.keys import ct_verifier
from tlog.ct.sth import json_b64, json_int, parse_sth_json, sth_to_checkpoint, strict_json
from tlog.errors import MalformedProofError, ProofError
from tlog.httpget import ClosesGetter, Getter
from tlog.merkle import HASH_SIZE
from tlog.note import Verifier

MAX_STH_BYTES = 64 * 1024
MAX_PROOF_BYTES = 64 * 1024
MAX_ENTRIES_BYTES = 64 << 20
MAX_PROOF_HASHES = 128


def _proof(doc: dict[str, Any], key: str, what: str) -> list[bytes]:
    items = doc.get(key)
    if not isinstance(items, list) or len(items) > MAX_PROOF_HASHES:
        raise CTFormatError(f"{what}: {key} must be a list of at most {MAX_PROOF_HASHES} hashes")
    out = [json_b64(h, f"{key}[{i}]", what) for i, h in enumerate(items)]
    for i, h in enumerate(out):
        if len(h) != HASH_SIZE:
            raise CTFormatError(f"{what}: {key}[{i}] is {len(h)} bytes, want {HASH_SIZE}")
    return out


def parse_entries_json(data: bytes, what: str) -> list[tuple[bytes, bytes]]:
    """(leaf_input, extra_data) of a get-entries response."""
    doc = strict_json(data, what)
    items = doc.get("entries")
    if set(doc) != {"entries"} or not isinstance(items, list):
        raise CTFormatError(f"{what}: want exactly {{'entries': [...]}}")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or set(item) != {"leaf_input", "extra_data"}:
            raise CTFormatError(f"{what}: entries[{i}] needs exactly leaf_input and extra_data")
        leaf = json_b64(item["leaf_input"], f"entries[{i}].leaf_input", what)
        extra = json_b64(item["extra_data"], f"entries[{i}].extra_data", what)
        out.append((leaf, extra))
    return out


class CTLogClient(ClosesGetter):
    """Reads one RFC 6962 log at ``url`` (the prefix before ``/ct/v1/``)."""

    kind = "ct"
    hash_rule = merkle.RFC6962

    def __init__(
        self,
        url: str,
        verifiers: Sequence[Verifier],
        http: httpx.AsyncClient | None = None,
        *,
        origin: str | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.1,
        max_batch: int = 1000,
    ) -> None:
        self.url = url.rstrip("/")
        self.verifier = ct_verifier(verifiers, origin, url)
        self.origin = self.verifier.name
        self.max_batch = max_batch
        self._getter = Getter(self.url, http, timeout=timeout, retries=retries, backoff=backoff)

    async def fetch_checkpoint(self) -> SignedCheckpoint:
        """The log's STH, verified, as a checkpoint with a type 0x05 signature."""
        path = "ct/v1/get-sth"
        try:
            sth = parse_sth_json(await self._getter.require(path, MAX_STH_BYTES))
        except CTFormatError as e:
            raise CTFormatError(f"{self._getter.url(path)}: {e}") from None
        return sth_to_checkpoint(sth, self.verifier)

    async def consistency_proof(
        self, old_size: int, new_size: int, tree_size: int | None = None
    ) -> list[bytes]:
        """get-sth-consistency from old_size to new_size (empty when old_size is 0 or equal)."""
        if not 0 <= old_size <= new_size:
            raise MalformedProofError(f"consistency from {old_size} to {new_size}")
        if old_size in (0, new_size):
            return []
        path = f"ct/v1/get-sth-consistency?first={old_size}&second={new_size}"
        doc = strict_json(await self._getter.require(path, MAX_PROOF_BYTES), self._getter.url(path))
        return _proof(doc, "consistency", self._getter.url(path))

    async def entries_with_extra(
        self, start: int, end: int, tree_size: int | None = None
    ) -> AsyncIterator[tuple[bytes, bytes]]:
        """Yield (leaf_input, extra_data) of entries start..end-1, in order."""
        if not 0 <= start <= end:
            raise MalformedProofError(f"entry range [{start}, {end}) is not valid")
        if tree_size is not None and end > tree_size:
            raise MalformedProofError(f"entry range [{start}, {end}) is past size {tree_size}")
        next_index = start
        while next_index < end:
            last = min(end, next_index + self.max_batch) - 1
            path = f"ct/v1/get-entries?start={next_index}&end={last}"
            body = await self._getter.require(path, MAX_ENTRIES_BYTES)
            got = parse_entries_json(body, self._getter.url(path))
            if not got or len(got) > last - next_index + 1:
                raise CTFormatError(
                    f"{self._getter.url(path)}: {len(got)} entries, want 1..{last - next_index + 1}"
                )
            for item in got:
                yield item
            next_index += len(got)

    async def entries(
        self, start: int, end: int, tree_size: int | None = None
    ) -> AsyncIterator[bytes]:
        """Yield the MerkleTreeLeaf bytes of entries start..end-1, in order."""
        async for leaf, _extra in self.entries_with_extra(start, end, tree_size):
            yield leaf

    def leaf_hash(self, entry: bytes) -> bytes:
        """The RFC 6962 leaf hash of a MerkleTreeLeaf."""
        return merkle.RFC6962.leaf(entry)

    async def proof_by_hash(self, leaf_hash: bytes, tree_size: int) -> tuple[int, list[bytes]]:
        """get-proof-by-hash: (leaf_index, audit_path) of the leaf in the tree of tree_size."""
        h = quote(base64.b64encode(leaf_hash).decode("ascii"), safe="")
        path = f"ct/v1/get-proof-by-hash?hash={h}&tree_size={tree_size}"
        url = self._getter.url(path)
        doc = strict_json(await self._getter.require(path, MAX_PROOF_BYTES), url)
        if set(doc) != {"leaf_index", "audit_path"}:
            raise CTFormatError(f"{url}: want exactly leaf_index and audit_path")
        index = json_int(doc, "leaf_index", tree_size - 1, url)
        return index, _proof(doc, "audit_path", url)

    async def tree_root(self, size: int, tree_size: int | None = None) -> bytes:
        """The root of the first size entries of the tree of tree_size (unverified)."""
        from tlog.ledger import prefix_root_from_proofs

        return await prefix_root_from_proofs(self, size, size if tree_size is None else tree_size)

    async def inclusion_proof(
        self, index: int, size: int, tree_size: int | None = None
    ) -> list[bytes]:
        """The inclusion proof of entry index in the tree of size, via get-proof-by-hash."""
        if not 0 <= index < size:
            raise MalformedProofError(f"index {index} is not in a tree of size {size}")
        (entry,) = [e async for e in self.entries(index, index + 1)]
        found, proof = await self.proof_by_hash(self.leaf_hash(entry), size)
        if found != index:
            raise ProofError(f"{self.url}: proof by hash of entry {index} names index {found}")
        return proof
