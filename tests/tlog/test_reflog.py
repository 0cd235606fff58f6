"""The reference log's storage and sequencing: pure edge and journal, crash safety, restart."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from tlog.checkpoint import open_checkpoint
from tlog.cosignature import CosignatureV1Signer
from tlog.errors import TileError
from tlog.keys import Ed25519Signer, generate_signer
from tlog.merkle import RFC6962, MemoryTree
from tlog.note import Signature, parse_note, verify_note
from tlog.reflog.edge import TreeEdge, partial_refs
from tlog.reflog.errors import LogStateError
from tlog.reflog.journal import Batch, decode_batch, encode_batch
from tlog.reflog.log import JOURNAL, TiledLog
from tlog.reflog.storage import LogDirectory
from tlog.tiles import (
    TILE_WIDTH,
    EntriesRef,
    TileRef,
    decode_entry_bundle,
    parse_tile_path,
    tile_hashes_for_tree,
)
from witnessnet.commands.key import write_key_file
from witnessnet.demo.procs import log_server

ORIGIN = "test.example/reflog"


def entries_for(first: int, count: int, tag: str = "e") -> list[bytes]:
    return [f"{tag}{i}".encode() for i in range(first, first + count)]


def check_directory(directory: Path, signer: Ed25519Signer) -> tuple[list[bytes], int]:
    """Check offline that the published checkpoint is fully supported by the files on disk,
    exactly as a static web server would serve them; return the entries and the size."""
    cp = open_checkpoint((directory / "checkpoint").read_bytes(), [signer.verifier()]).checkpoint
    assert cp.origin == ORIGIN
    entries: list[bytes] = []
    for n in range(-(-cp.size // TILE_WIDTH)):
        ref = EntriesRef(n, min(TILE_WIDTH, cp.size - n * TILE_WIDTH))
        entries += decode_entry_bundle((directory / ref.path).read_bytes(), ref.width)
    tree = MemoryTree(RFC6962.leaf(e) for e in entries)
    assert tree.root() == cp.root
    for ref, data in tile_hashes_for_tree(tree, cp.size).items():
        assert (directory / ref.path).read_bytes() == data, ref.path
    return entries, cp.size


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 700), max_size=8))
def test_edge_publishes_the_tiles_of_each_size(batches: list[int]) -> None:
    edge, tree, disk = TreeEdge.empty(), MemoryTree(), {}
    for count in batches:
        new = entries_for(tree.size, count)
        old_size = tree.size
        edge, files = edge.append(new)
        tree.extend(RFC6962.leaf(e) for e in new)
        assert edge.size == tree.size
        assert edge.root() == tree.root()
        hash_tiles = {parse_tile_path(p): d for p, d in files if not p.startswith("tile/entries")}
        assert hash_tiles == tile_hashes_for_tree(tree, tree.size, old_size)
        disk.update(files)
        refs, bundle = partial_refs(edge.size)
        tiles = {ref: disk[ref.path] for ref in refs}
        assert TreeEdge.from_tiles(edge.size, tiles, bundle and disk[bundle.path]) == edge


def test_edge_rejects_a_bundle_that_does_not_match_its_tile() -> None:
    _, files = TreeEdge.empty().append(entries_for(0, 3))
    disk = dict(files)
    refs, bundle = partial_refs(3)
    _, other = TreeEdge.empty().append(entries_for(0, 3, "x"))
    with pytest.raises(TileError, match="does not hash"):
        TreeEdge.from_tiles(3, {refs[0]: disk[refs[0].path]}, dict(other)[bundle.path])


def test_journal_round_trips_and_detects_damage() -> None:
    batch = Batch(3, 700, [("tile/0/000", b"\x01" * 8192), ("checkpoint", b"note\n")])
    data = encode_batch(batch)
    assert decode_batch(data) == batch
    for damaged in (data[:-1], data[:20] + b"X" + data[21:], b""):
        with pytest.raises(LogStateError):
            decode_batch(damaged)


def test_log_restarts_where_it_stopped(tmp_path: Path) -> None:
    signer = generate_signer(ORIGIN)
    log = TiledLog.open(LogDirectory(tmp_path), signer, ORIGIN)
    assert log.published.size == 0
    log.commit(entries_for(0, 100), {})
    log.commit(entries_for(100, 200), {"mirrored": 7})
    again = TiledLog.open(LogDirectory(tmp_path), signer, ORIGIN)
    assert again.published == log.published
    assert again.published.meta == {"mirrored": 7}
    again.commit(entries_for(300, 5), {})
    entries, size = check_directory(tmp_path, signer)
    assert entries == entries_for(0, 305) and size == 305
    assert again.read_entries(90, 270, size) == entries_for(90, 180)


def test_consistency_proofs_from_the_logs_own_tiles(tmp_path: Path) -> None:
    log = TiledLog.open(LogDirectory(tmp_path), generate_signer(ORIGIN), ORIGIN)
    log.commit(entries_for(0, 1000), {})
    log.commit(entries_for(1000, 69000), {})
    tree = MemoryTree(RFC6962.leaf(e) for e in entries_for(0, 70000))
    # 1000 is an earlier published size: its partial tiles are cut from full ones now.
    for old, new in ((1, 2), (100, 256), (300, 1000), (255, 70000), (65536, 70000), (7, 7)):
        assert log.consistency_proof(old, new) == tree.consistency_proof(old, new), (old, new)
    with pytest.raises(LogStateError, match="published tree has 70000"):
        log.consistency_proof(5, 70001)


def test_cosigned_checkpoint_is_published_and_survives_a_restart(tmp_path: Path) -> None:
    signer = generate_signer(ORIGIN)
    log = TiledLog.open(LogDirectory(tmp_path), signer, ORIGIN)
    log.commit(entries_for(0, 10), {})
    witness = CosignatureV1Signer(generate_signer("example.com/witness"))
    text = log.signed_note(log.published).text.encode()
    cosignature = Signature(witness.name, witness.key_id, witness.sign(text))
    assert not log.add_cosignatures(9, [cosignature]), "not the published size"
    assert log.add_cosignatures(10, [cosignature])
    served = (tmp_path / "checkpoint").read_bytes()
    assert served == log.published.note
    assert verify_note(parse_note(served), [witness.verifier()]) == [witness.verifier()]
    again = TiledLog.open(LogDirectory(tmp_path), signer, ORIGIN)
    assert again.published == log.published
    assert [s.name for s in again.signed_note(again.published).signatures] == [ORIGIN]
    again.commit(entries_for(10, 5), {})
    assert parse_note(again.published.note).signatures[0].name == ORIGIN
    assert len(parse_note(again.published.note).signatures) == 1
    check_directory(tmp_path, signer)


def test_partials_of_full_tiles_are_deleted_and_served_from_the_full_tile(tmp_path: Path) -> None:
    log = TiledLog.open(LogDirectory(tmp_path), generate_signer(ORIGIN), ORIGIN)
    log.commit(entries_for(0, 100), {})
    partial, bundle = TileRef(0, 0, 100), EntriesRef(0, 100)
    before = log.read_tile(partial, 100), log.read_tile(bundle, 100)
    log.commit(entries_for(100, 200), {})
    assert not (tmp_path / "tile/0/000.p").exists()
    assert (log.read_tile(partial, 300), log.read_tile(bundle, 300)) == before
    assert log.read_tile(TileRef(0, 1), 300) is None, "a tile the tree does not have yet"


def test_log_refuses_a_directory_it_does_not_own(tmp_path: Path) -> None:
    signer = generate_signer(ORIGIN)
    TiledLog.open(LogDirectory(tmp_path), signer, ORIGIN).commit(entries_for(0, 10), {})
    with pytest.raises(LogStateError, match="not this log's"):
        TiledLog.open(LogDirectory(tmp_path), generate_signer(ORIGIN), ORIGIN)
    with pytest.raises(LogStateError, match="origin"):
        TiledLog.open(LogDirectory(tmp_path), signer, "other.example/log")
    tile = tmp_path / "tile/0/000.p/10"
    tile.write_bytes(bytes(32) + tile.read_bytes()[32:])
    with pytest.raises(LogStateError, match="hash"):
        TiledLog.open(LogDirectory(tmp_path), signer, ORIGIN)


class Crash(BaseException):
    """The process 'dies' here."""


class CrashingDirectory(LogDirectory):
    """A log directory whose process dies before its n-th file operation."""

    def __init__(self, root: Path, n: int) -> None:
        super().__init__(root)
        self.left = n

    def _tick(self) -> None:
        if self.left == 0:
            raise Crash
        self.left -= 1

    def write_file(self, rel: str, data: bytes, touched: set[Path]) -> None:
        self._tick()
        super().write_file(rel, data, touched)

    def remove(self, rel: str) -> None:
        self._tick()
        super().remove(rel)


def test_a_crash_at_any_file_operation_leaves_a_supported_checkpoint(tmp_path: Path) -> None:
    signer = generate_signer(ORIGIN)
    base = tmp_path / "base"
    TiledLog.open(LogDirectory(base), signer, ORIGIN).commit(entries_for(0, 300), {})
    batch = entries_for(300, 300)
    journals = 0
    for n in range(100):
        directory = tmp_path / f"crash{n}"
        shutil.copytree(base, directory)
        log = TiledLog.open(CrashingDirectory(directory, n), signer, ORIGIN)
        try:
            log.commit(batch, {})
        except Crash:
            pass
        else:
            break
        journals += (directory / JOURNAL).exists()
        _, size = check_directory(directory, signer)
        assert size in (300, 600)
        resumed = TiledLog.open(LogDirectory(directory), signer, ORIGIN)
        assert resumed.published.size == (600 if n else 300), "a journaled batch is replayed"
        resumed.commit(entries_for(resumed.published.size, 10), {})
        entries, _ = check_directory(directory, signer)
        assert entries == entries_for(0, len(entries))
    assert n > 5, "the commit must have been interrupted at every file operation"
    assert journals == n - 1, "every crash after the journal write leaves a journal to replay"


async def test_kill_9_during_appends_leaves_a_supported_checkpoint(tmp_path: Path) -> None:
    signer = generate_signer(ORIGIN)
    key = tmp_path / "log.key"
    write_key_file(key, signer)
    directory = tmp_path / "log"
    acked: dict[bytes, int] = {}
    args = ["--batch-interval", "0.005", "--batch-size", "8"]
    sizes = []
    for round_ in range(3):
        async with log_server(directory, key, ORIGIN, args) as log:
            assert log.listening["size"] >= len(acked)

            async def append(worker: int, url: str = log.url, round_: int = round_) -> None:
                for i in range(10_000):
                    entry = f"round {round_} worker {worker} entry {i}".encode()
                    try:
                        resp = await http.post(f"{url}/add", content=entry)
                    except httpx.HTTPError:
                        return
                    acked[entry] = int(resp.text)

            async with httpx.AsyncClient(timeout=10) as http, trio.open_nursery() as nursery:
                for worker in range(12):
                    nursery.start_soon(append, worker)
                await trio.sleep(0.5 + 0.25 * round_)
                log.process.kill()
        entries, size = check_directory(directory, signer)
        sizes.append(size)
        for entry, index in acked.items():
            assert entries[index] == entry
    assert sizes == sorted(sizes) and sizes[0] > 0
