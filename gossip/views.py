"""This witness's view of the logs it follows: what its digests say and what it offers.

A log's view is its latest stored checkpoint with every cosignature this
witness knows: the aggregated note from the gossip state when there is one for
that checkpoint, else the stored checkpoint with a fresh cosignature by this
witness (none for a frozen log: it is never cosigned again). Views are rebuilt
only when the stored checkpoint or its aggregated note changes, so that a
digest of many logs parses no notes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

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
        view = LogView(origin, state.size, state.root, note)
        self._cache[origin] = _Cached(state.checkpoint, body, aggregated, view)
        return view

    def _cosigned(self, origin: str, body: str, checkpoint: bytes) -> bytes:
        """The stored checkpoint with its valid cosignatures and a fresh one by this witness."""
        fresh = self._witness.cosigned_checkpoint(origin)
        trusted = self._witness.registry.get(origin)
        if fresh is None or trusted is None or parse_note(fresh).text != body:
            return checkpoint
        merged, _ = merge_cosignatures(fresh, checkpoint, trusted.verifiers, self._cosigners)
        return merged
