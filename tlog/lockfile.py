"""An exclusive, non-blocking lock beside a state file (`<path>.lock`).

Every daemon that owns a SQLite state file takes this lock first, so a second
process on the same file is refused instead of racing the first one's writer.
The lock lives as long as the returned descriptor stays open.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


def try_lock(path: Path) -> int | None:
    """Lock `<path>.lock`; return its descriptor, or None when another process holds it.

    Raises OSError when the lock file cannot be opened.
    """
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd
