"""Consistency proofs and prefix roots for gossip, from the logs' own ledgers.

Gossip needs proofs in three places: to attach to a checkpoint it offers a
peer that has an older one, to check a newer checkpoint a peer sent without a
usable proof (NeedProof), and to check an older checkpoint a peer holds
against its own (a fork the peer cannot prove from its side). For a log whose
config names a `url`, LedgerProofs asks the log's tlog.ledger source of its
`kind` (for tiles, read as published for the larger tree); a log without one
gets no proofs here. Prefix roots come from the source's `tree_root`: tiles and
static-ct compute them from tiles, ccf from the rebuilt ledger tree, ct and scitt
from the last prefix entry's inclusion proof (tlog.ledger.prefix_root_from_proofs).

A proof from tiles is only as good as the checkpoint it is checked against:
callers verify every hash (gossip.reconcile.check_proof). Failures are not
errors here: a log that is down, slow or serves garbage gives None, and the
caller counts attempts towards a suspicion.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Protocol

import httpx
import trio

from tlog.errors import TlogError
from tlog.ledger import LedgerSource, open_source
from witness.registry import Registry

CACHE_SIZE = 1024

log = logging.getLogger("gossip.proofs")


class ProofSource(Protocol):
    """Where gossip gets consistency proofs and prefix roots of a log."""

    def can_fetch(self, origin: str) -> bool:
        """Whether proofs of `origin` can be fetched at all."""
        ...

    async def consistency(self, origin: str, old_size: int, new_size: int) -> list[bytes] | None:
        """The RFC 9162 proof from old_size to new_size, from the size-new_size tree."""
        ...

    async def prefix_root(self, origin: str, size: int, tree_size: int) -> bytes | None:
        """The root of the first `size` leaves of the size-`tree_size` tree."""
        ...


class LedgerProofs:
    """Proofs from each trusted log's ledger at its `url`, cached, under a timeout."""

    def __init__(self, registry: Registry, http: httpx.AsyncClient, timeout: float) -> None:
        self._registry = registry
        self._http = http
        self._timeout = timeout
        self._clients: dict[str, tuple[str, LedgerSource]] = {}
        self._cache: OrderedDict[tuple[str, str, int, int], list[bytes] | bytes] = OrderedDict()

    def can_fetch(self, origin: str) -> bool:
        trusted = self._registry.get(origin)
        return trusted is not None and trusted.url is not None

    def _client(self, origin: str) -> LedgerSource | None:
        trusted = self._registry.get(origin)
        if trusted is None or trusted.url is None:
            return None
        cached = self._clients.get(origin)
        if cached is not None and cached[0] == f"{trusted.kind} {trusted.url}":
            return cached[1]
        client = open_source(
            trusted.kind,
            trusted.url,
            trusted.verifiers,
            self._http,
            origin=origin,
            timeout=self._timeout,
        )
        self._clients[origin] = (f"{trusted.kind} {trusted.url}", client)
        return client

    async def _fetch(self, key: tuple[str, str, int, int]) -> list[bytes] | bytes | None:
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        what, origin, a, b = key
        client = self._client(origin)
        if client is None:
            return None
        result: list[bytes] | bytes | None = None
        with trio.move_on_after(self._timeout):
            try:
                if what == "proof":
                    result = await client.consistency_proof(a, b, b)
                else:
                    result = await client.tree_root(a, b)
            except TlogError as e:
                log.debug(
                    "no proof from the log's tiles",
                    extra={"origin": origin, "what": what, "sizes": [a, b], "error": str(e)},
                )
        if result is not None:
            self._cache[key] = result
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return result

    async def consistency(self, origin: str, old_size: int, new_size: int) -> list[bytes] | None:
        result = await self._fetch(("proof", origin, old_size, new_size))
        return result if isinstance(result, list) else None

    async def prefix_root(self, origin: str, size: int, tree_size: int) -> bytes | None:
        result = await self._fetch(("root", origin, size, tree_size))
        return result if isinstance(result, bytes) else None
