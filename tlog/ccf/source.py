"""CcfLedgerSource: a CCF ledger published as chunk files under a URL (LedgerSource "ccf").

CCF serves no ledger files itself; operators copy committed chunks to static storage.
The source reads `<url>/ledger-chunks.txt`, one committed chunk name per line (for example
`ls ledger_*.committed > ledger-chunks.txt`; the source orders them by seqno), then fetches
each chunk it has not seen. Committed chunks never change, so each one is fetched and
verified once; the names must stay contiguous from seqno 1.

- fetch_checkpoint: replay new chunks (tlog.ccf.verify), take the newest COSE-signed root
  and present it as a checkpoint note (tlog.ccf.heads); the configured vkeys must verify it.
  Ledgers without COSE root signatures raise NoSignedHeadError saying why.
- consistency_proof, inclusion_proof and tree_root (the root of any prefix, which gossip
  needs to prove a fork from a power-of-two size): from the rebuilt tree (CCF serves none).
- entries: the tree's leaves (32-byte digests; leaf 0 is 32 zero bytes); leaf_hash is the
  identity, as under tlog.merkle.CCF.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import httpx
import trio

from tlog import merkle
from tlog.ccf.chunk import committed_range, is_committed_chunk_name
from tlog.ccf.errors import MalformedLedgerError
from tlog.ccf.files import MAX_CHUNK_BYTES
from tlog.ccf.heads import checkpoint_note, latest_cose_root
from tlog.ccf.verify import LedgerVerifier
from tlog.checkpoint import SignedCheckpoint, open_checkpoint
from tlog.errors import CheckpointError, MalformedProofError
from tlog.httpget import ClosesGetter, Getter, LogUnavailableError, status_error
from tlog.keys import CcfCoseVerifier
from tlog.note import Verifier

INDEX = "ledger-chunks.txt"
MAX_INDEX_BYTES = 1 << 20


class CcfLedgerSource(ClosesGetter):
    """Reads the CCF ledger whose chunks are listed at `<base_url>/ledger-chunks.txt`.

    `log_verifiers` must include a CcfCoseVerifier (vkey type 0xff ccf-cose-root) for the
    service; its name is the checkpoint origin unless `origin` is given (they must agree).
    """

    kind = "ccf"
    hash_rule = merkle.CCF

    def __init__(
        self,
        base_url: str,
        log_verifiers: Sequence[Verifier],
        client: httpx.AsyncClient | None = None,
        *,
        origin: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.log_verifiers = tuple(log_verifiers)
        names = [v.name for v in self.log_verifiers if isinstance(v, CcfCoseVerifier)]
        if not names:
            raise CheckpointError(
                f"{self.base_url}: a ccf source needs a CCF COSE service vkey (type 0xff "
                "witnessnet/ccf-cose-root/v1); see docs/ccf.md"
            )
        self.origin = origin if origin is not None else names[0]
        if self.origin not in names:
            raise CheckpointError(
                f"{self.base_url}: origin {self.origin!r} has no CCF COSE vkey of that name"
            )
        self.timeout = timeout
        # One attempt per GET: a failed refresh is retried by the next poll.
        self._getter = Getter(self.base_url, client, timeout=timeout, retries=0)
        self._verifier = LedgerVerifier()
        self._lock = trio.Lock()

    async def _get(self, name: str, limit: int) -> bytes:
        """The body of GET name: one attempt; over limit bytes or not 200 is an error."""
        status, body = await self._getter.once(name, limit)
        if len(body) > limit:
            raise LogUnavailableError(self._getter.url(name), f"answer over {limit} bytes")
        if status != 200:
            raise status_error(self._getter.url(name), status, body)
        return body

    async def _chunk_names(self) -> list[str]:
        text = (await self._get(INDEX, MAX_INDEX_BYTES)).decode("utf-8", "replace")
        names = [line.strip() for line in text.splitlines() if line.strip()]
        for lineno, name in enumerate(names, start=1):
            if not is_committed_chunk_name(name):
                raise MalformedLedgerError(
                    f"line {lineno}: {name!r} is not a committed chunk name",
                    file=f"{self.base_url}/{INDEX}",
                )
        return sorted(names, key=lambda n: committed_range(n)[0])

    async def refresh(self) -> None:
        """Fetch and verify chunks listed after the last one verified."""
        async with self._lock:
            known = set(self._verifier.report.files)
            for name in await self._chunk_names():
                if name not in known:
                    data = await self._get(name, MAX_CHUNK_BYTES)
                    self._verifier.add_chunk(name, data)
            self._verifier.report.raise_for_problem()

    async def fetch_checkpoint(self) -> SignedCheckpoint:
        """The newest COSE-signed root as a checkpoint note, verified with the configured keys."""
        await self.refresh()
        root = latest_cose_root(self._verifier.report, self.base_url)
        verifier = next(
            v
            for v in self.log_verifiers
            if isinstance(v, CcfCoseVerifier) and v.name == self.origin
        )
        note = checkpoint_note(self.origin, root, verifier)
        return open_checkpoint(note.to_bytes(), self.log_verifiers)

    def _tree_size(self, size: int, tree_size: int | None) -> int:
        have = self._verifier.report.tree.size
        tree_size = size if tree_size is None else tree_size
        if not size <= tree_size <= have:
            raise MalformedProofError(
                f"size {size} under tree size {tree_size}: the ledger read so far has {have} leaves"
            )
        return tree_size

    async def consistency_proof(
        self, old_size: int, new_size: int, tree_size: int | None = None
    ) -> list[bytes]:
        if new_size > self._verifier.report.tree.size:
            await self.refresh()
        self._tree_size(new_size, tree_size)
        return self._verifier.report.tree.consistency_proof(old_size, new_size)

    async def inclusion_proof(
        self, index: int, size: int, tree_size: int | None = None
    ) -> list[bytes]:
        """The RFC 9162 inclusion proof of leaf index in the tree of size (CCF hash rule)."""
        if size > self._verifier.report.tree.size:
            await self.refresh()
        self._tree_size(size, tree_size)
        return self._verifier.report.tree.inclusion_proof(index, size)

    async def tree_root(self, size: int, tree_size: int | None = None) -> bytes:
        """The root of the first `size` leaves of the rebuilt tree (CCF hash rule)."""
        if max(size, tree_size or 0) > self._verifier.report.tree.size:
            await self.refresh()
        self._tree_size(size, tree_size)
        return self._verifier.report.tree.root(size)

    async def entries(
        self, start: int, end: int, tree_size: int | None = None
    ) -> AsyncIterator[bytes]:
        if end > self._verifier.report.tree.size:
            await self.refresh()
        self._tree_size(end, tree_size)
        if not 0 <= start <= end:
            raise MalformedProofError(f"entry range [{start}, {end}) is backwards")
        tree = self._verifier.report.tree
        for i in range(start, end):
            yield tree.node_hash(0, i)

    def leaf_hash(self, entry: bytes) -> bytes:
        return merkle.CCF.leaf(entry)
