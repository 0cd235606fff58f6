"""A tlog-tiles log in a directory, with exactly one writer: a TiledLog object.

Layout of the directory (servable as-is by any static web server)::

    checkpoint                      the signed checkpoint (C2SP tlog-checkpoint)
    tile/<L>/<N>[.p/<W>]            hash tiles
    tile/entries/<N>[.p/<W>]        entry bundles (uncompressed)
    .reflog/journal                 the batch being published (only during a commit)
    .reflog/meta.json               small integers committed with the checkpoint

A commit appends a batch of entries: it writes the journal (durable), then the
new tiles and bundles (durable), then the checkpoint (durable, atomic rename),
then meta.json, then deletes superseded partials and the journal. A published
checkpoint therefore never names a tree whose tiles are not all on disk, and
recovery is to apply a journal that is still there (see tlog.reflog.journal).
Once witnesses cosign the published checkpoint, `add_cosignatures` replaces the
checkpoint file with the same note plus their cosignature lines (a signed note
may carry signatures its reader does not know; they are ignored).
On open, the checkpoint is verified with the log's key (other signatures on it
are ignored) and the partial tiles of its tree must hash to its root.
Blocking: call from a worker thread. The caller serialises `commit` and
`add_cosignatures`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from tlog import merkle
from tlog.checkpoint import Checkpoint, open_checkpoint
from tlog.errors import CheckpointError, NoteError, TileError
from tlog.keys import Ed25519Signer
from tlog.merkle import HASH_SIZE
from tlog.note import Note, Signature, parse_note, sign_note
from tlog.reflog.edge import Files, TreeEdge, partial_refs, superseded_partials
from tlog.reflog.errors import LogStateError
from tlog.reflog.journal import Batch, decode_batch, encode_batch
from tlog.reflog.storage import LogDirectory
from tlog.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    EntriesRef,
    TileHashReader,
    TileRef,
    decode_entry_bundle,
    encode_entry_bundle,
    tiles_needed_for_consistency,
)

CHECKPOINT = "checkpoint"
JOURNAL = ".reflog/journal"
META = ".reflog/meta.json"
PUBLISHED_LAST = (CHECKPOINT, META)


@dataclass(frozen=True)
class Published:
    """What the log serves: the latest durable checkpoint and the meta committed with it."""

    size: int
    root: bytes
    note: bytes
    meta: Mapping[str, int] = field(default_factory=dict)


def servable(ref: TileRef | EntriesRef, size: int) -> bool:
    """Whether a tree of size publishes ref (or the full tile that contains it)."""
    level = ref.level if isinstance(ref, TileRef) else 0
    return ref.index * TILE_WIDTH + ref.width <= size >> (TILE_HEIGHT * level)


class TiledLog:
    """The single writer of a log directory; ``published`` is what readers may serve."""

    def __init__(
        self, store: LogDirectory, signer: Ed25519Signer, origin: str, edge: TreeEdge
    ) -> None:
        self.store = store
        self.signer = signer
        self.origin = origin
        self._edge = edge
        self.published = Published(0, b"", b"")

    @classmethod
    def open(cls, store: LogDirectory, signer: Ed25519Signer, origin: str) -> TiledLog:
        """Resume the log in store's directory (created, with an empty checkpoint, if new).

        Raises LogStateError when the directory belongs to another key or origin,
        or its tiles do not support its checkpoint.
        """
        store.root.mkdir(parents=True, exist_ok=True)
        log = cls(store, signer, origin, TreeEdge.empty())
        journal = store.read(JOURNAL)
        if journal is not None:
            log._recover(journal)
        elif store.read(CHECKPOINT) is None:
            if store.path("tile").exists():
                raise LogStateError(f"{store.root}: has tiles but no checkpoint; refusing to guess")
            log._publish(TreeEdge.empty(), [], {})
        log._load()
        return log

    def _recover(self, journal: bytes) -> None:
        batch = decode_batch(journal)
        note = self.store.read(CHECKPOINT)
        size = 0 if note is None else self._verify(note).size
        if size not in (batch.old_size, batch.new_size):
            raise LogStateError(
                f"{self.store.path(JOURNAL)} takes size {batch.old_size} to {batch.new_size} "
                f"but the checkpoint has size {size}; inspect the directory by hand"
            )
        self._apply(batch)

    def _verify(self, note: bytes) -> Checkpoint:
        where = self.store.path(CHECKPOINT)
        try:
            cp = open_checkpoint(note, [self.signer.verifier()]).checkpoint
        except (NoteError, CheckpointError) as e:
            raise LogStateError(f"{where} is not this log's (key {self.signer.vkey()}): {e}") from e
        if cp.origin != self.origin:
            raise LogStateError(f"{where} has origin {cp.origin!r}, not {self.origin!r}")
        return cp

    def _load(self) -> None:
        note = self.store.read(CHECKPOINT)
        if note is None:
            raise LogStateError(f"{self.store.path(CHECKPOINT)} is missing")
        cp = self._verify(note)
        refs, bundle_ref = partial_refs(cp.size)
        tiles = {ref: data for ref in refs if (data := self.store.read(ref.path)) is not None}
        bundle = None if bundle_ref is None else self.store.read(bundle_ref.path)
        try:
            edge = TreeEdge.from_tiles(cp.size, tiles, bundle)
        except TileError as e:
            raise LogStateError(f"{self.store.root}: {e}") from e
        if edge.root() != cp.root:
            raise LogStateError(f"{self.store.root}: the partial tiles do not hash to the root")
        try:
            meta = json.loads(self.store.read(META) or b"{}")
        except ValueError as e:
            raise LogStateError(f"{self.store.path(META)} is not JSON: {e}") from e
        self._edge = edge
        self.published = Published(cp.size, cp.root, note, meta)

    def commit(self, entries: Sequence[bytes], meta: Mapping[str, int]) -> Published:
        """Append entries, durably, and publish the new checkpoint; return it.

        meta is merged into the published meta in the same commit.
        """
        edge, files = self._edge.append(entries)
        self._publish(edge, files, {**self.published.meta, **meta})
        return self.published

    def _publish(self, edge: TreeEdge, files: Files, meta: Mapping[str, int]) -> None:
        cp = Checkpoint(self.origin, edge.size, edge.root())
        note = sign_note(cp.body(), [self.signer]).to_bytes()
        files = [*files, (CHECKPOINT, note)]
        if meta != self.published.meta:
            files.append((META, json.dumps(dict(meta), sort_keys=True).encode()))
        batch = Batch(self._edge.size, edge.size, files)
        self.store.write([(JOURNAL, encode_batch(batch))])
        self._apply(batch)
        self._edge = edge
        self.published = Published(cp.size, cp.root, note, dict(meta))

    def _apply(self, batch: Batch) -> None:
        """Tiles and bundles first, then the checkpoint, then meta; then clean up."""
        self.store.write([(p, d) for p, d in batch.files if p not in PUBLISHED_LAST])
        for path, data in batch.files:
            if path in PUBLISHED_LAST:
                self.store.write([(path, data)])
        for path in superseded_partials(batch.old_size, batch.new_size):
            self.store.remove(path)
        self.store.remove(JOURNAL)

    def signed_note(self, published: Published) -> Note:
        """A published checkpoint note with the log's own signature only."""
        note = parse_note(published.note)
        mine = (self.signer.name, self.signer.key_id)
        return Note(note.text, tuple(s for s in note.signatures if (s.name, s.key_id) == mine))

    def add_cosignatures(self, size: int, cosignatures: Sequence[Signature]) -> bool:
        """Republish the checkpoint of size with the log's signature and `cosignatures`.

        Durable and atomic like any published file. Does nothing and returns False
        when the published tree is no longer of size (a newer checkpoint replaced it).
        """
        if self.published.size != size:
            return False
        note = self.signed_note(self.published)
        cosigned = Note(note.text, (*note.signatures, *cosignatures)).to_bytes()
        self.store.write([(CHECKPOINT, cosigned)])
        self.published = replace(self.published, note=cosigned)
        return True

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """The consistency proof from old_size to new_size, from the tiles of new_size.

        new_size must be at most the published size (LogStateError otherwise).
        """
        if new_size > self.published.size:
            raise LogStateError(
                f"no proof to size {new_size}: the published tree has {self.published.size}"
            )
        tiles = {}
        for ref in tiles_needed_for_consistency(old_size, new_size):
            data = self.read_tile(ref, new_size)
            if data is None:
                raise LogStateError(f"{self.store.path(ref.path)} is missing")
            tiles[ref] = data
        reader = TileHashReader(new_size, tiles)
        return merkle.consistency_proof(old_size, new_size, reader.node_hash)

    def read_tile(self, ref: TileRef | EntriesRef, size: int) -> bytes | None:
        """The contents of ref if a tree of size publishes it, else None.

        A partial whose file was deleted (its full version exists) is cut from
        the full one: the same bytes the partial had.
        """
        if not servable(ref, size):
            return None
        data = self.store.read(ref.path)
        if data is not None or ref.width == TILE_WIDTH:
            return data
        if isinstance(ref, TileRef):
            full = self.store.read(TileRef(ref.level, ref.index).path)
            return None if full is None else full[: HASH_SIZE * ref.width]
        full = self.store.read(EntriesRef(ref.index).path)
        if full is None:
            return None
        return encode_entry_bundle(decode_entry_bundle(full, TILE_WIDTH)[: ref.width])

    def read_entries(self, start: int, end: int, size: int) -> list[bytes]:
        """Entries start..end-1 of the tree of size (end <= size)."""
        out: list[bytes] = []
        if start >= end:
            return out
        for n in range(start // TILE_WIDTH, (end - 1) // TILE_WIDTH + 1):
            ref = EntriesRef(n, min(TILE_WIDTH, size - n * TILE_WIDTH))
            data = self.read_tile(ref, size)
            if data is None:
                raise LogStateError(f"{self.store.path(ref.path)} is missing")
            bundle = decode_entry_bundle(data, ref.width)
            base = n * TILE_WIDTH
            out += bundle[max(0, start - base) : end - base]
        return out
