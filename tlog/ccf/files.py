"""Read CCF ledger chunk files from disk for tlog.ccf.verify (the only I/O in tlog.ccf)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from tlog.ccf.chunk import is_committed_chunk_name
from tlog.ccf.errors import MalformedLedgerError
from tlog.ccf.verify import LedgerReport, verify_chunks

# A chunk is read whole; CCF's default chunk size is 5 MB, so 1 GiB is far beyond real use.
MAX_CHUNK_BYTES = 1 << 30


def committed_chunk_paths(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Every committed chunk named by paths: files as given, directories by their entries.

    Directory entries that are not `ledger_<a>-<b>.committed` (open chunks, snapshots,
    READMEs) are skipped; a file given by name must be a committed chunk.
    """
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(c for c in p.iterdir() if is_committed_chunk_name(c.name)))
        elif p.is_file():
            if not is_committed_chunk_name(p.name):
                raise MalformedLedgerError(
                    "not a committed ledger chunk name (want ledger_<first>-<last>.committed)",
                    file=str(p),
                )
            out.append(p)
        else:
            raise MalformedLedgerError("no such file or directory", file=str(p))
    names = [p.name for p in out]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise MalformedLedgerError("chunk given twice", file=sorted(dupes)[0])
    return out


def read_chunk(path: Path) -> bytes:
    """A chunk's bytes, refusing files beyond MAX_CHUNK_BYTES."""
    size = path.stat().st_size
    if size > MAX_CHUNK_BYTES:
        raise MalformedLedgerError(
            f"file of {size} bytes is over {MAX_CHUNK_BYTES}", file=str(path)
        )
    return path.read_bytes()


def verify_ledger(paths: Iterable[str | os.PathLike[str]]) -> LedgerReport:
    """Verify the ledger in these directories and chunk files (tlog.ccf.verify.verify_chunks)."""
    return verify_chunks((p.name, read_chunk(p)) for p in committed_chunk_paths(paths))
