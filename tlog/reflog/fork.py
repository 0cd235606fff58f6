"""The split-view drill: a second, valid log that shares a prefix with the main log.

The fork is a TiledLog of its own (same key, same origin) fed by a mirror task:
the main log's entry i is appended to the fork as ``fork_entry(i, e, fork_at)``,
that is unchanged for i < fork_at and prefixed with b"fork:" after (cut to the
65535-byte entry limit). Entries posted to the fork's own /add go to the fork
only, and only once the fork holds the main log's first fork_at entries, so
the two trees agree on exactly the first fork_at entries. Their checkpoints
beyond that size are verifiably inconsistent: a split view to detect.

The mirror's cursor (how many main entries the fork holds) and fork_at are
committed in the fork's meta with the fork's checkpoint, so a restart resumes
the mirror exactly where the fork's published tree ends.
"""

from __future__ import annotations

import trio

from tlog.reflog.errors import AddRefusedError, LogStateError
from tlog.reflog.sequencer import Sequencer
from tlog.tiles import MAX_ENTRY_SIZE

FORK_PREFIX = b"fork:"
MIRRORED = "mirrored"
FORK_AT = "fork_at"


def fork_entry(index: int, entry: bytes, fork_at: int) -> bytes:
    """The fork's version of the main log's entry at index."""
    return entry if index < fork_at else (FORK_PREFIX + entry)[:MAX_ENTRY_SIZE]


class Mirror:
    """Copies the main log's entries into the fork and gates the fork's own adds."""

    def __init__(self, main: Sequencer, fork: Sequencer, fork_at: int) -> None:
        recorded = fork.published.meta.get(FORK_AT, fork_at)
        if recorded != fork_at:
            raise LogStateError(
                f"{fork.log.store.root} forks at {recorded}, not {fork_at}: "
                "use that --fork-at or remove the fork directory"
            )
        self.main = main
        self.fork = fork
        self.fork_at = fork_at

    @property
    def mirrored(self) -> int:
        """How many of the main log's entries the fork's published tree holds."""
        return self.fork.published.meta.get(MIRRORED, 0)

    async def add(self, entry: bytes) -> int:
        """Add an entry to the fork only (its POST /add)."""
        if self.mirrored < self.fork_at:
            raise AddRefusedError(
                f"the fork has {self.mirrored} of the first {self.fork_at} main log entries; "
                "it takes its own entries once it has diverged"
            )
        return await self.fork.add(entry)

    async def run(self) -> None:
        """Mirror until cancelled."""
        while True:
            cursor = self.mirrored
            await self.main.wait_for_size(cursor + 1)
            size = self.main.published.size
            end = min(size, cursor + self.fork.batch_size)
            entries = await trio.to_thread.run_sync(self.main.log.read_entries, cursor, end, size)
            forked = [fork_entry(cursor + i, e, self.fork_at) for i, e in enumerate(entries)]
            await self.fork.add_batch(forked, {MIRRORED: end, FORK_AT: self.fork_at})
