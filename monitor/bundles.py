"""Fetching a log's entry bundles in bulk: persistent HTTP/1.1 connections, in order.

The bulk path of an audit is thousands of bundle GETs; a general HTTP client
spends most of the audit's time in connection-pool bookkeeping. This fetcher
keeps ``connections`` persistent connections (h11, the sans-I/O HTTP/1.1
state machine, over trio streams; HTTPS with the default certificate checks),
each a worker that takes the next bundle to fetch, so bundles arrive in
parallel while the caller consumes them in index order. At most ``window``
bundles are fetched ahead of the consumer.

Per request: a deadline of ``timeout`` seconds; connection errors, timeouts
and 5xx answers are retried ``retries`` times with exponential backoff on a
new connection. A partial bundle that answers 404 is cut from its full
version (logs may delete partials once full). Bodies are gzip-decoded when the
log sends them so; bodies and decoded bundles are bounded by the most a
bundle can hold. The bundle bytes are returned as served: the caller decodes
them (monitor.tree.bundle_leaf_hashes or tlog.tiles.decode_entry_bundle).
"""

from __future__ import annotations

import ssl
import zlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import h11
import trio

from monitor.errors import FetchError
from tlog.errors import TileError
from tlog.tiles import (
    MAX_ENTRY_SIZE,
    TILE_WIDTH,
    EntriesRef,
    decode_entry_bundle,
    encode_entry_bundle,
)

MAX_BUNDLE_BYTES = TILE_WIDTH * (2 + MAX_ENTRY_SIZE)
MAX_HEADER_BYTES = 64 * 1024
USER_AGENT = "witnessnet-monitor"


class _Retry(Exception):
    """A failure worth retrying on a new connection (network, timeout, 5xx)."""


@dataclass(frozen=True, slots=True)
class _Origin:
    scheme: str
    host: str
    port: int
    prefix: str

    @classmethod
    def parse(cls, base_url: str) -> _Origin:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"{base_url!r} is not an http(s) URL")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


class _Connection:
    """One persistent HTTP/1.1 connection, reopened after any error."""

    def __init__(self, origin: _Origin, ssl_context: ssl.SSLContext | None) -> None:
        self.origin = origin
        self.ssl_context = ssl_context
        self.stream: trio.abc.Stream | None = None
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEADER_BYTES)

    async def close(self) -> None:
        if self.stream is not None:
            stream, self.stream = self.stream, None
            with trio.CancelScope(shield=True):
                await stream.aclose()
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEADER_BYTES)

    async def _open(self) -> trio.abc.Stream:
        if self.stream is None:
            o = self.origin
            if self.ssl_context is not None:
                self.stream = await trio.open_ssl_over_tcp_stream(
                    o.host, o.port, ssl_context=self.ssl_context, https_compatible=True
                )
            else:
                self.stream = await trio.open_tcp_stream(o.host, o.port)
        return self.stream

    async def get(self, path: str) -> tuple[int, bytes]:
        """(status, decoded body) of GET path; _Retry on network trouble."""
        try:
            stream = await self._open()
            request = h11.Request(
                method="GET",
                target=f"{self.origin.prefix}/{path}",
                headers=[
                    ("Host", self.origin.host_header),
                    ("Accept-Encoding", "gzip"),
                    ("User-Agent", USER_AGENT),
                ],
            )
            await stream.send_all(self.h11.send(request) + self.h11.send(h11.EndOfMessage()))
            status, gzipped, body = await self._response(stream)
        except (
            OSError,
            trio.BrokenResourceError,
            trio.ClosedResourceError,
            h11.ProtocolError,
        ) as e:
            await self.close()
            raise _Retry(f"{type(e).__name__}: {e}") from None
        if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            self.h11.start_next_cycle()
        else:
            await self.close()
        return status, _gunzip(body) if gzipped else body

    async def _response(self, stream: trio.abc.Stream) -> tuple[int, bool, bytes]:
        status, gzipped, body = 0, False, bytearray()
        while True:
            event = self.h11.next_event()
            if event is h11.NEED_DATA:
                self.h11.receive_data(await stream.receive_some(1 << 16))
            elif isinstance(event, h11.Response):
                status = event.status_code
                encoding = dict(event.headers).get(b"content-encoding", b"identity").lower()
                if encoding not in (b"gzip", b"identity"):
                    raise h11.RemoteProtocolError(f"unsupported Content-Encoding {encoding!r}")
                gzipped = encoding == b"gzip"
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_BUNDLE_BYTES:
                    raise h11.RemoteProtocolError(f"body over {MAX_BUNDLE_BYTES} bytes")
            elif isinstance(event, h11.EndOfMessage):
                return status, gzipped, bytes(body)
            elif isinstance(event, h11.ConnectionClosed):
                raise h11.RemoteProtocolError("connection closed before the response ended")


def _gunzip(data: bytes) -> bytes:
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(data, MAX_BUNDLE_BYTES + 1)
    except zlib.error as e:
        raise FetchError(f"gzip body does not decode: {e}") from None
    if len(out) > MAX_BUNDLE_BYTES or d.unconsumed_tail:
        raise FetchError(f"gzip body decodes to over {MAX_BUNDLE_BYTES} bytes")
    if not d.eof:
        raise FetchError("gzip body is truncated")
    return out


@contextmanager
def _first_error() -> Iterator[None]:
    """Raise the first error of a failed nursery (a worker's or the consumer's) by itself."""
    try:
        yield
    except BaseExceptionGroup as group:
        errors = group.subgroup(lambda e: not isinstance(e, trio.Cancelled))
        if errors is None:
            raise
        first: BaseException = errors
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None


@dataclass
class _Pending:
    """Fetched bundles not yet consumed, and the events their consumer waits on."""

    done: dict[int, bytes] = field(default_factory=dict)
    arrived: dict[int, trio.Event] = field(default_factory=dict)

    def event(self, index: int) -> trio.Event:
        return self.arrived.setdefault(index, trio.Event())


class BundleFetcher:
    """Fetches the entry bundles of the log at base_url (see the module docstring)."""

    def __init__(
        self,
        base_url: str,
        *,
        connections: int = 8,
        window: int = 64,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.1,
    ) -> None:
        self.origin = _Origin.parse(base_url)
        self.base_url = base_url.rstrip("/")
        self.connections = connections
        self.window = max(window, connections)
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._ssl = ssl.create_default_context() if self.origin.scheme == "https" else None

    async def _get(self, conn: _Connection, path: str) -> tuple[int, bytes]:
        error = "not attempted"
        for attempt in range(self.retries + 1):
            if attempt:
                await trio.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                with trio.fail_after(self.timeout):
                    status, body = await conn.get(path)
            except trio.TooSlowError:
                await conn.close()
                error = f"no complete answer within {self.timeout} s"
                continue
            except _Retry as e:
                error = str(e)
                continue
            if status < 500:
                return status, body
            error = f"HTTP {status}"
        raise FetchError(f"{self.base_url}/{path}: {error} (after {self.retries} retries)")

    async def _fetch(self, conn: _Connection, ref: EntriesRef) -> bytes:
        """The bytes of bundle ref, cut from its full version if a partial answers 404."""
        status, body = await self._get(conn, ref.path)
        if status == 404 and ref.width < TILE_WIDTH:
            full = EntriesRef(ref.index)
            status, body = await self._get(conn, full.path)
            if status == 200:
                try:
                    entries = decode_entry_bundle(body, TILE_WIDTH)
                except TileError as e:
                    raise FetchError(f"{self.base_url}/{full.path}: {e}") from None
                return encode_entry_bundle(entries[: ref.width])
        if status != 200:
            raise FetchError(f"{self.base_url}/{ref.path}: HTTP {status}")
        return body

    async def _worker(
        self,
        jobs: trio.MemoryReceiveChannel[EntriesRef],
        pending: _Pending,
    ) -> None:
        conn = _Connection(self.origin, self._ssl)
        try:
            async for ref in jobs:
                pending.done[ref.index] = await self._fetch(conn, ref)
                pending.event(ref.index).set()
        finally:
            await conn.close()

    @asynccontextmanager
    async def bundles(
        self, start: int, end: int, tree_size: int
    ) -> AsyncIterator[AsyncIterator[tuple[EntriesRef, bytes]]]:
        """Iterate over the bundles holding entries [start, end) in order, as (ref, bytes).

        The bundles are those of a tree of tree_size (ref.width entries each);
        the first and last may hold entries outside [start, end).
        """
        first, last = start // TILE_WIDTH, (end - 1) // TILE_WIDTH
        refs = [
            EntriesRef(n, min(TILE_WIDTH, tree_size - n * TILE_WIDTH))
            for n in range(first, last + 1)
        ]
        pending = _Pending()
        window = trio.Semaphore(self.window)
        jobs_send, jobs_receive = trio.open_memory_channel[EntriesRef](0)

        async def dispatch() -> None:
            async with jobs_send:
                for ref in refs:
                    await window.acquire()
                    await jobs_send.send(ref)

        async def ordered() -> AsyncIterator[tuple[EntriesRef, bytes]]:
            for ref in refs:
                await pending.event(ref.index).wait()
                del pending.arrived[ref.index]
                data = pending.done.pop(ref.index)
                window.release()
                yield ref, data

        if not refs:
            yield ordered()
            return
        with _first_error():
            async with trio.open_nursery() as nursery:
                nursery.start_soon(dispatch)
                async with jobs_receive:
                    for _ in range(min(self.connections, len(refs))):
                        nursery.start_soon(self._worker, jobs_receive.clone(), pending)
                yield ordered()
                nursery.cancel_scope.cancel()
