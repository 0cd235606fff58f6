"""Durable files in a log directory: write to a temporary name, fsync, rename, fsync the directory.

When ``write`` returns, every file it was given, and every directory it had to
create, survives a crash with exactly the given contents. A reader (this
process's HTTP server or any static web server) sees either the old file or
the new one, never a torn one. Blocking: call it from a worker thread.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath

from tlog.reflog.edge import Files
from tlog.reflog.errors import LogStateError


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LogDirectory:
    """Files under ``root``, addressed by relative POSIX paths such as ``tile/0/000``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, rel: str) -> Path:
        p = PurePosixPath(rel)
        if p.is_absolute() or ".." in p.parts or not p.parts:
            raise LogStateError(f"{rel!r} is not a relative path inside the log directory")
        return self.root.joinpath(*p.parts)

    def read(self, rel: str) -> bytes | None:
        """The contents of rel, or None if it does not exist."""
        try:
            return self.path(rel).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _make_parents(self, path: Path, touched: set[Path]) -> None:
        missing = []
        parent = path.parent
        while not parent.is_dir():
            missing.append(parent)
            parent = parent.parent
        for d in reversed(missing):
            d.mkdir(exist_ok=True)
            touched.add(d.parent)
        touched.add(path.parent)

    def write(self, files: Files) -> None:
        """Write each file atomically and durably (see the module docstring)."""
        touched: set[Path] = set()
        for rel, data in files:
            self.write_file(rel, data, touched)
        for d in sorted(touched, key=lambda p: len(p.parts), reverse=True):
            _fsync_dir(d)

    def write_file(self, rel: str, data: bytes, touched: set[Path]) -> None:
        """Write one file atomically; add the directories to fsync to touched."""
        target = self.path(rel)
        self._make_parents(target, touched)
        tmp = target.with_name(f".{target.name}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)

    def remove(self, rel: str) -> None:
        """Delete a file or a directory tree; a missing one is not an error.

        Not fsynced: callers only delete what is harmless to find again after a
        crash (a replayed journal, a partial tile whose full tile exists).
        """
        target = self.path(rel)
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
