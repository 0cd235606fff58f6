"""Following one log: from the persisted cursor to the newest acceptable checkpoint.

A pass (``run_pass``):

1. reads the log's checkpoint and the other configured sources, and picks the
   newest checkpoint that meets the policy (monitor.checkpoints); a log that
   signed two checkpoints of one size with different roots is an integrity
   finding;
2. checks it against the checkpoint the cursor was last verified against:
   same size needs the same root, a larger one a consistency proof (from the
   new tree's tiles) that verifies; a failure is an integrity finding carrying
   both checkpoints and the proof; an older checkpoint is not audited;
3. fetches the entry bundles from the cursor to the checkpoint's size
   (monitor.bundles), extends the tree over them, and after every batch of
   ``batch_size`` entries checks that tree against the checkpoint's root
   (monitor.tree); a mismatch is an integrity finding ("the log lied") and
   ends the pass without advancing;
4. parses and checks the batch's claims (monitor.rules) in a worker thread,
   fetches and verifies an inclusion proof for each violation, and commits
   the rule memory, findings, checked range and cursor in one transaction;
5. hands new findings to the outbox.

A kill at any point loses at most the uncommitted batch, which the next pass
checks again from the committed cursor: every entry is checked once.

Logs of another ledger kind (``ct``, ``static-ct``) are read through their
tlog.ledger source: the log's own head comes from ``fetch_checkpoint`` (an RFC
6962 STH as a checkpoint), entries from ``entries`` and their leaf hashes from
``leaf_hash``. Without hash tiles, a batch that ends before the checkpoint's
size is checked with the log's consistency proof from the batch's tree to the
checkpoint's (the recomputed prefix root must be an ancestor of the signed
root), and inclusion proofs for findings come from the source.

Every tree computation uses the source's ``hash_rule``: RFC 6962 for tiles, CT
and SCITT, CCF's for ``ccf`` ledgers. A ``ccf`` source yields the ledger's leaf
digests (the tree it rebuilt from the chunks it verified), so the monitor audits
the tree only: the leaves hash to each signed root, successive heads are
consistent, no rollback; table contents are not parsed into claims. A published
ledger that fails the source's verification (a changed transaction, a signature
that does not verify) is an integrity finding ``ledger-invalid`` naming the
file and seqno. A ``scitt`` source yields the registered signed statements,
which the ``scitt`` claim type checks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import httpx

from monitor.bundles import BundleFetcher
from monitor.checkpoints import Candidate, select_checkpoint
from monitor.claims import ClaimType
from monitor.config import LogConfig
from monitor.errors import NoCheckpointError
from monitor.findings import Finding, b64, entry_finding, integrity_finding
from monitor.outbox import Outbox
from monitor.progress import Progress
from monitor.rules import Memory, Remembered, Rules, Violation, check_entry
from monitor.sources import checkpoint_urls, fetch_notes
from monitor.store import Cursor, Store, Verified
from monitor.tree import (
    BUNDLE_BYTES,
    Prefix,
    bundle_leaf_hashes,
    leaf_hashes,
    right_nodes,
    root_with_right,
)
from tlog import merkle
from tlog.checkpoint import parse_checkpoint
from tlog.errors import ProofError, TlogError
from tlog.ledger import LedgerSource, open_source
from tlog.merkle import HASH_SIZE, verify_consistency, verify_inclusion
from tlog.note import Note
from tlog.tiles import (
    TILE_WIDTH,
    TileHashReader,
    TileRef,
    decode_entry_bundle,
    tile_for_node,
    tiles_needed_for_inclusion,
)
from tlog.tiles_client import TiledLogClient

logger = logging.getLogger("monitor")


class LogLiedError(Exception):
    """The pass ended on an integrity finding (already recorded)."""


@dataclass(frozen=True, slots=True)
class PassResult:
    """What one pass did: entries [start, end) checked against a tree of size."""

    log: str
    start: int
    end: int
    size: int
    findings: int
    error: str | None = None


class _BatchMemory:
    """Rule memory for one batch: reads through to the store, writes kept until commit."""

    def __init__(self, store: Store, log: str) -> None:
        self.store = store
        self.log = log
        self.writes: dict[tuple[str, str], Remembered] = {}

    def recall(self, kind: str, key: str) -> Remembered | None:
        item = self.writes.get((kind, key))
        return item if item is not None else self.store.recall(self.log, kind, key)

    def remember(self, kind: str, key: str, item: Remembered) -> None:
        self.writes[(kind, key)] = item


def check_batch(
    entries: Sequence[bytes],
    start: int,
    types: Sequence[ClaimType],
    rules: Rules,
    memory: Memory,
) -> list[tuple[int, Violation]]:
    """The violations of entries start, start+1, ... (blocking: run it in a worker thread)."""
    return [
        (start + i, v)
        for i, entry in enumerate(entries)
        for v in check_entry(entry, start + i, types, rules, memory)
    ]


def _note_text(note: Note | bytes) -> str:
    return (note.to_bytes() if isinstance(note, Note) else note).decode("utf-8")


class Follower:
    """Audits one configured log; see the module docstring."""

    def __init__(
        self,
        log: LogConfig,
        store: Store,
        outbox: Outbox,
        http: httpx.AsyncClient,
        progress: Progress,
        *,
        rules: Rules,
        batch_size: int = 4096,
        connections: int = 8,
        timeout: float = 10.0,
    ) -> None:
        self.log = log
        self.store = store
        self.outbox = outbox
        self.http = http
        self.progress = progress
        self.rules = rules
        self.batch_size = batch_size
        self.timeout = timeout
        self.tiles = TiledLogClient(
            log.url, [log.verifier], http, origin=log.origin, timeout=timeout
        )
        self.source: LedgerSource = self.tiles
        if log.kind != "tiles":
            self.source = open_source(
                log.kind, log.url, [log.verifier], http, origin=log.origin, timeout=timeout
            )
        self.rule = self.source.hash_rule
        self.bundles = BundleFetcher(log.url, connections=connections, timeout=timeout)
        self._tile_cache: dict[TileRef, bytes] = {}
        self._found = 0
        self._result = PassResult(log.name, 0, 0, 0, 0)

    async def _own_head(self) -> list[tuple[str, bytes]]:
        """The head the log's source serves, as a checkpoint note (none if it fails).

        A published ledger that does not verify is an integrity finding (LogLiedError).
        """
        from tlog.ccf.errors import LedgerVerificationError, MalformedLedgerError

        try:
            signed = await self.source.fetch_checkpoint()
        except (LedgerVerificationError, MalformedLedgerError) as e:
            where = f"{e.file or self.log.url}:{e.seqno}"
            await self._lied(
                "ledger-invalid",
                f"the published ledger does not verify: {e}",
                f"ledger-invalid:{where}",
                {"url": self.log.url, "file": e.file, "seqno": e.seqno, "error": str(e)},
            )
        except TlogError as e:
            logger.warning("checkpoint source failed", extra={"url": self.log.url, "error": str(e)})
            return []
        return [(self.log.url, signed.note.to_bytes())]

    async def _choose(self) -> Candidate:
        if self.log.kind == "tiles":
            urls = checkpoint_urls(self.log.url, self.log.checkpoints)
            sources = await fetch_notes(self.http, urls, self.timeout)
        else:
            own = await self._own_head()
            sources = own + await fetch_notes(self.http, self.log.checkpoints, self.timeout)
        selection = select_checkpoint(sources, self.log.verifier, self.log.origin, self.log.policy)
        for a, b in selection.conflicts:
            size = parse_checkpoint(a.text).size
            roots = sorted(b64(parse_checkpoint(n.text).root) for n in (a, b))
            await self._lied(
                "equivocation",
                f"two log-signed checkpoints of size {size} with different roots",
                f"equivocation:{size}:{roots[0]}:{roots[1]}",
                {"checkpoints": [_note_text(a), _note_text(b)]},
            )
        if selection.chosen is None:
            reasons = "; ".join(selection.passed_over) or "no source answered"
            raise NoCheckpointError(f"no checkpoint of {self.log.origin} qualifies: {reasons}")
        return selection.chosen

    async def _lied(
        self, problem: str, summary: str, key: str, evidence: dict[str, object]
    ) -> None:
        finding = integrity_finding(self.log.name, self.log.origin, problem, summary, key, evidence)
        await self.store.run(self.store.record_findings, [finding])
        logger.error("integrity finding", extra={"log": self.log.name, "problem": problem})
        await self.outbox.deliver()
        raise LogLiedError(summary)

    async def _check_consistency(self, cursor: Cursor, target: Candidate) -> bool:
        """Whether target is at least as new as the cursor's checkpoint (raises LogLiedError)."""
        cp = target.checkpoint
        if cursor.checkpoint is None or cursor.root is None:
            return True
        if cp.size < cursor.size:
            logger.info("older checkpoint", extra={"log": self.log.name, "size": cp.size})
            return False
        previous = _note_text(cursor.checkpoint)
        if cp.size == cursor.size:
            if cp.root != cursor.root:
                await self._lied(
                    "equivocation",
                    f"two log-signed checkpoints of size {cp.size} with different roots",
                    f"equivocation:{cp.size}:{':'.join(sorted([b64(cursor.root), b64(cp.root)]))}",
                    {"checkpoints": [previous, _note_text(target.note)]},
                )
            return True
        proof = await self.source.consistency_proof(cursor.size, cp.size)
        try:
            verify_consistency(cursor.size, cp.size, cursor.root, cp.root, proof, self.rule)
        except ProofError as e:
            await self._lied(
                "inconsistent-checkpoints",
                f"checkpoint {cp.size} is not an extension of checkpoint {cursor.size}: {e}",
                f"inconsistent:{cursor.size}:{b64(cursor.root)}:{cp.size}:{b64(cp.root)}",
                {
                    "previous_checkpoint": previous,
                    "checkpoint": _note_text(target.note),
                    "consistency_proof": [b64(h) for h in proof],
                    "error": str(e),
                },
            )
        return True

    async def _reader(self, refs: Iterable[TileRef], size: int) -> TileHashReader:
        """The node hashes of the tree of size from tiles refs (fetched once per pass)."""
        refs = set(refs)
        missing = [ref for ref in refs if ref not in self._tile_cache]
        if missing:
            self._tile_cache.update(await self.tiles.fetch_tiles(missing))
        return TileHashReader(size, {ref: self._tile_cache[ref] for ref in refs})

    async def _root(self, prefix: Prefix, size: int, root: bytes) -> bytes:
        """The root of the tree of size from prefix and the log's tiles right of it.

        For a source without tiles: root itself if the log's consistency proof
        shows the prefix's tree is an ancestor of it, else the prefix's root.
        """
        if prefix.size == size:
            return prefix.root()
        if self.log.kind != "tiles":
            proof = await self.source.consistency_proof(prefix.size, size, size)
            try:
                verify_consistency(prefix.size, size, prefix.root(), root, proof, self.rule)
            except ProofError:
                return prefix.root()
            return root
        nodes = right_nodes(prefix, size)
        reader = await self._reader((tile_for_node(lv, i, size) for lv, i in nodes), size)
        return root_with_right(prefix, size, reader.node_hash)

    async def _findings(
        self,
        target: Candidate,
        entries: Sequence[bytes],
        start: int,
        found: list[tuple[int, Violation]],
    ) -> list[Finding]:
        """Findings for the violations, each with an inclusion proof verified against target."""
        cp, note = target.checkpoint, target.note.to_bytes()
        out = []
        for index, violation in found:
            entry = entries[index - start]
            proof = await self._inclusion_proof(index, cp.size)
            leaf = self.source.leaf_hash(entry)
            verify_inclusion(leaf, index, cp.size, proof, cp.root, self.rule)
            out.append(
                entry_finding(self.log.name, self.log.origin, index, entry, violation, note, proof)
            )
        return out

    async def _inclusion_proof(self, index: int, size: int) -> list[bytes]:
        if self.log.kind == "tiles":
            reader = await self._reader(tiles_needed_for_inclusion(index, size), size)
            return merkle.inclusion_proof(index, size, reader.node_hash)
        return await self.source.inclusion_proof(index, size)

    async def _batch(
        self, cursor: Cursor, prefix: Prefix, entries: list[bytes], target: Candidate
    ) -> Cursor:
        cp = target.checkpoint
        root = await self._root(prefix, cp.size, cp.root)
        if root != cp.root:
            what = "the entries" if prefix.size == cp.size else "the entries and the hash tiles"
            if self.log.kind != "tiles" and prefix.size != cp.size:
                what = "the entries and the log's consistency proof"
            await self._lied(
                "root-mismatch",
                f"{what} up to {prefix.size} do not hash to the root of checkpoint {cp.size}",
                f"root-mismatch:{cp.size}:{b64(cp.root)}",
                {
                    "checkpoint": _note_text(target.note),
                    "entries": [0, prefix.size],
                    "computed_root": b64(root),
                    "batch": [cursor.next, prefix.size],
                },
            )
        findings: list[Finding] = []
        memory = _BatchMemory(self.store, self.log.name)
        if self.log.claims:
            found = await self.store.run(
                check_batch, entries, cursor.next, self.log.claims, self.rules, memory
            )
            findings = await self._findings(target, entries, cursor.next, found)
        verified = Verified(target.note.to_bytes(), cp.size, cp.root)
        committed = await self.store.run(
            self.store.commit_batch, cursor, prefix, verified, memory.writes, findings
        )
        self._found += len(findings)
        if findings:
            await self.outbox.deliver()
        return committed

    def _hashes(self, width: int, data: bytes, skip: int) -> tuple[bytes, list[bytes]]:
        if not self.log.claims:
            return bundle_leaf_hashes(data, width)[skip * 32 :], []
        entries = decode_entry_bundle(data, width)[skip:]
        return leaf_hashes(entries), entries

    async def run_pass(self) -> PassResult:
        """One pass. An integrity finding (recorded and delivered) ends it early: the
        result then has an error saying what the log did, and the cursor stays put."""
        self._found = 0
        cursor = await self.store.run(self.store.cursor, self.log.name, self.log.origin)
        self._result = PassResult(self.log.name, cursor.next, cursor.next, cursor.size, 0)
        try:
            await self._audit(cursor)
        except LogLiedError as e:
            r = self._result
            return PassResult(r.log, r.start, r.end, r.size, self._found + 1, f"integrity: {e}")
        return self._result

    async def _audit(self, cursor: Cursor) -> None:
        start = cursor.next
        target = await self._choose()
        size = target.checkpoint.size
        self._result = PassResult(self.log.name, start, start, size, 0)
        if not await self._check_consistency(cursor, target) or cursor.next == size:
            return
        self._tile_cache = {}
        prefix = cursor.prefix.copy(self.rule)  # the store keeps hashes, not the rule
        entries: list[bytes] = []
        self.progress.update(self.log.name, 0, size - start)
        if self.log.kind != "tiles":
            await self._audit_entries(cursor, prefix, target)
            return
        async with self.bundles.bundles(cursor.next, size, size) as bundles:
            async for ref, data in bundles:
                skip = max(0, prefix.size - ref.index * TILE_WIDTH)
                hashes, batch_entries = self._hashes(ref.width, data, skip)
                entries += batch_entries
                prefix.append_bundle(hashes)
                if prefix.size - cursor.next >= self.batch_size or prefix.size == size:
                    cursor = await self._batch(cursor, prefix, entries, target)
                    entries = []
                    self._result = PassResult(self.log.name, start, cursor.next, size, self._found)
                    self.progress.update(self.log.name, cursor.next - start, size - start)
        self.progress.finish(self.log.name, cursor.next - start, size - start)

    async def _audit_entries(self, cursor: Cursor, prefix: Prefix, target: Candidate) -> None:
        """The audit loop over a source's entries (kinds without entry bundles)."""
        start, size = cursor.next, target.checkpoint.size
        entries: list[bytes] = []

        async def commit(cursor: Cursor) -> Cursor:
            hashes = b"".join(self.source.leaf_hash(e) for e in entries)
            # Leaves up to a tile boundary one by one, then whole tiles as subtrees.
            head = min(len(hashes), (-prefix.size % TILE_WIDTH) * HASH_SIZE)
            prefix.append_leaves(hashes[:head])
            for i in range(head, len(hashes), BUNDLE_BYTES):
                prefix.append_bundle(hashes[i : i + BUNDLE_BYTES])
            cursor = await self._batch(cursor, prefix, entries, target)
            self._result = PassResult(self.log.name, start, cursor.next, size, self._found)
            self.progress.update(self.log.name, cursor.next - start, size - start)
            return cursor

        async for entry in self.source.entries(cursor.next, size, size):
            entries.append(entry)
            if len(entries) == self.batch_size:
                cursor = await commit(cursor)
                entries = []
        if entries:
            cursor = await commit(cursor)
        self.progress.finish(self.log.name, cursor.next - start, size - start)
