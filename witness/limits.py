"""Abuse limits of the witness's HTTP server: per-client request rates and bounded admission.

The `[limits]` config table (docs/witness.md, "Limits") sets them:

    [limits]
    client_requests_per_second = 20   # per remote address, every endpoint
    client_burst = 100                # requests a client may send at once
    max_inflight = 32                 # add-checkpoint requests being verified at once
    max_queue = 128                   # more wait for a slot; beyond that: 503 + Retry-After
    header_timeout_seconds = 10       # a whole request head must arrive within this long of
                                      # the connection opening or the last response
    read_timeout_seconds = 10         # no byte for this long inside a request: dropped
    max_header_bytes = 16384          # an unfinished request head bigger than this: refused
    max_gossip_inflight = 16          # gossip messages (up to 8 MiB each) being read at once
    max_gossip_queue = 64             # more wait; beyond that: 503 + Retry-After
    exempt_clients = ["127.0.0.1", "::1"]   # addresses the per-client limit does not apply to

Everything here is O(1) per request and never awaits unless a request has to
wait for a slot or is refused. Each refusal is counted in
witness_limited_requests{limit}.

A client over its rate is answered 429 only after waiting until its next token
(at most MAX_DELAY): a flood over one connection then runs at about the limit
instead of as fast as the witness can say no. At most MAX_HELD refusals wait at
once; beyond that they are answered at once and their connection is closed.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, fields

import trio

from witness.errors import WitnessError

MAX_CLIENTS = 65_536  # remote addresses tracked at once; the least recently seen is forgotten
RETRY_AFTER = 1
MAX_DELAY = 1.0  # seconds a refused request is held before its 429
MAX_HELD = 1024  # refused requests held at once


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    """The `[limits]` table; see the module doc for meanings and docs/witness.md for defaults."""

    client_requests_per_second: float = 20.0
    client_burst: int = 100
    max_inflight: int = 32
    max_queue: int = 128
    header_timeout_seconds: float = 10.0
    read_timeout_seconds: float = 10.0
    max_header_bytes: int = 16384
    max_gossip_inflight: int = 16
    max_gossip_queue: int = 64
    # Local tooling and a reverse proxy on the same host: everything it forwards would
    # share one bucket. Limit at such a proxy instead.
    exempt_clients: frozenset[str] = frozenset({"127.0.0.1", "::1"})


# (low, high, integer) per key, for the config parser.
BOUNDS: dict[str, tuple[float, float, bool]] = {
    "client_requests_per_second": (0.01, 1e6, False),
    "client_burst": (1, 1_000_000, True),
    "max_inflight": (1, 100_000, True),
    "max_queue": (0, 1_000_000, True),
    "header_timeout_seconds": (0.1, 3600, False),
    "read_timeout_seconds": (0.1, 3600, False),
    "max_header_bytes": (1024, 1 << 20, True),
    "max_gossip_inflight": (1, 10_000, True),
    "max_gossip_queue": (0, 100_000, True),
}
assert set(BOUNDS) | {"exempt_clients"} == {f.name for f in fields(LimitsConfig)}


class ClientLimiter:
    """Token buckets keyed by remote address, at most MAX_CLIENTS of them (LRU)."""

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._max = max_clients
        # address -> [tokens, stamp]
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()
        self.forgotten = 0

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, client: str) -> bool:
        """Spend one token of `client`'s bucket; False if it is empty."""
        now = self._clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = self._buckets[client] = [self.burst, now]
            if len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
                self.forgotten += 1
        else:
            self._buckets.move_to_end(client)
            bucket[0] = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
            bucket[1] = now
        if bucket[0] >= 1:
            bucket[0] -= 1
            return True
        return False

    def wait(self, client: str) -> float:
        """Seconds until `client` has a token again (after a refusal)."""
        bucket = self._buckets.get(client)
        return 0.0 if bucket is None else max(0.0, (1 - bucket[0]) / self.rate)


class Tarpit:
    """Holds refused requests before they are answered, at most `capacity` at once."""

    def __init__(self, capacity: int = MAX_HELD, max_delay: float = MAX_DELAY) -> None:
        self.capacity = capacity
        self.max_delay = max_delay
        self.held = 0

    async def hold(self, seconds: float) -> bool:
        """Wait min(seconds, max_delay); False at once if `capacity` are already held."""
        if self.held >= self.capacity:
            return False
        self.held += 1
        try:
            await trio.sleep(min(seconds, self.max_delay))
        finally:
            self.held -= 1
        return True


class QueueFullError(WitnessError):
    """Every in-flight slot is taken and the queue of waiters is full."""


class Admission:
    """At most `max_inflight` holders at once, and at most `max_queue` waiting for a slot.

    `enter()` returns True when the caller got a slot without waiting (the common case,
    no await needed); False means the caller must `await wait()`. Both end with `leave()`.
    """

    def __init__(self, max_inflight: int, max_queue: int) -> None:
        self._slots = trio.Semaphore(max_inflight)
        self.max_inflight = max_inflight
        self.max_queue = max_queue
        self.waiting = 0

    @property
    def inflight(self) -> int:
        return self.max_inflight - self._slots.value

    def enter(self) -> bool:
        """Take a slot now, or join the queue; raise QueueFullError if it is full."""
        try:
            self._slots.acquire_nowait()
            return True
        except trio.WouldBlock:
            if self.waiting >= self.max_queue:
                raise QueueFullError(
                    f"{self.max_inflight} requests in flight and {self.waiting} queued"
                ) from None
            self.waiting += 1
            return False

    async def wait(self) -> None:
        """After enter() returned False: wait for a slot (leaves the queue either way)."""
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1

    def leave(self) -> None:
        self._slots.release()
