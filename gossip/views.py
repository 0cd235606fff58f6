"""This witness's view of the logs it follows: what its digests say and what it offers.

A log's view is its latest stored checkpoint with every cosignature this
witness knows: the aggregated note from the gossip state when there is one for
that checkpoint, else the stored checkpoint with a fresh cosignature by this
witness (none for a frozen log: it is never cosigned again). Views are rebuilt
only when the stored checkpoint or its aggregated note changes, so that a
digest of many logs parses no notes.

A key in an ssh-agent (`keyring.blocking`) signs over a socket, which must not stall
the event loop: then `refresh()` makes the fresh cosignatures in a worker thread
before the mapping is read, and a view whose cosignature is not made yet is served
as stored, without it. A key in memory signs inline, as the view is read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import trio

from gossip.reconcile import LogView, merge_cosignatures
from gossip.state import GossipState
from tlog.note import Verifier, parse_note
from witness.service import Witness


@dataclass(frozen=True, slots=True)
class _Cached:
    checkpoint: bytes
    body: str
    aggregated: bytes | None
    view: LogView


class Views(Mapping[str, LogView]):
    """The views of every trusted log, by origin (a live mapping over the witness's state)."""

    def __init__(self, witness: Witness, state: GossipState, cosigners: Sequence[Verifier]) -> None:
        self._witness = witness
        self._state = state
        self._cosigners = tuple(cosigners)
        self._cache: dict[str, _Cached] = {}
        # With a blocking keyring: origin -> (stored checkpoint, the witness's cosigned
        # note of it, or None when it cosigns none), made by refresh() in a worker thread.
        self._signed: dict[str, tuple[bytes, bytes | None]] = {}

    def __iter__(self) -> Iterator[str]:
        return iter([t.origin for t in self._witness.registry])

    def __len__(self) -> int:
        return len(self._witness.registry)

    def __getitem__(self, origin: str) -> LogView:
        if self._witness.registry.get(origin) is None:
            raise KeyError(origin)
        state = self._witness.store.latest(origin)
        if state is None or state.checkpoint is None or state.root is None or state.size == 0:
            return LogView(origin)
        cached = self._cache.get(origin)
        if cached is None or cached.checkpoint != state.checkpoint:
            body = parse_note(state.checkpoint).text
        else:
            body = cached.body
        aggregated = self._state.note(origin, body)
        if (
            cached is not None
            and cached.checkpoint == state.checkpoint
            and cached.aggregated is aggregated
        ):
            return cached.view
        note = aggregated or self._cosigned(origin, body, state.checkpoint)
        if note is None:  # refresh() has not cosigned this checkpoint yet: not cached
            return LogView(origin, state.size, state.root, state.checkpoint)
        view = LogView(origin, state.size, state.root, note)
        self._cache[origin] = _Cached(state.checkpoint, body, aggregated, view)
        return view

    async def refresh(self, origins: Iterable[str] | None = None) -> None:
        """With a blocking keyring, cosign the stored checkpoints of `origins` (default:
        every trusted log) that have no view yet, in a worker thread. Otherwise nothing."""
        if not self._witness.keyring.blocking:
            return
        for origin in list(self) if origins is None else origins:
            state = self._witness.store.latest(origin)
            if state is None or state.checkpoint is None:
                continue
            cached = self._cache.get(origin)
            if (
                cached is not None
                and cached.checkpoint == state.checkpoint
                # built with this witness's cosignature, or from a note that is still there
                and (cached.aggregated is None or self._state.note(origin, cached.body) is not None)
            ):
                continue
            signed = self._signed.get(origin)
            if signed is not None and signed[0] == state.checkpoint:
                continue
            note = await trio.to_thread.run_sync(self._witness.cosigned_checkpoint, origin)
            self._signed[origin] = (state.checkpoint, note)

    def _cosigned(self, origin: str, body: str, checkpoint: bytes) -> bytes | None:
        """The stored checkpoint with its valid cosignatures and a fresh one by this witness;
        None when the keyring blocks and refresh() has not made that cosignature yet."""
        if self._witness.keyring.blocking:
            signed = self._signed.pop(origin, None)  # the cached view keeps it from here
            if signed is None or signed[0] != checkpoint:
                return None
            fresh = signed[1]
        else:
            fresh = self._witness.cosigned_checkpoint(origin)
        trusted = self._witness.registry.get(origin)
        if fresh is None or trusted is None or parse_note(fresh).text != body:
            return checkpoint
        merged, _ = merge_cosignatures(fresh, checkpoint, trusted.verifiers, self._cosigners)
        return merged
