"""The bounded HTTP GET every log client shares: deadline, retries, capped bodies.

``Getter.get`` retries 5xx answers, timeouts and connection errors with
exponential backoff, returns None for a 404 for the caller to interpret and
raises LogStatusError for any other status. Each attempt runs under a deadline
and reads the body only up to a limit plus one byte (after the gzip decoding
httpx applies), so a hostile log cannot make the client buffer more than the
resource may hold; callers decide whether a body over the limit is an error.
``Getter.once`` is a single attempt, for sources that do not retry.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Self

import httpx
import trio

from tlog.errors import TlogError


class LogClientError(TlogError):
    """A log that could not be read; ``url`` is the resource that failed."""

    def __init__(self, url: str, message: str) -> None:
        super().__init__(f"{url}: {message}")
        self.url = url


class LogStatusError(LogClientError):
    """The log answered with an HTTP error status (after retries, for 5xx)."""

    def __init__(self, url: str, status: int, body: str) -> None:
        super().__init__(url, f"HTTP {status}: {body}" if body else f"HTTP {status}")
        self.status = status


class LogUnavailableError(LogClientError):
    """The log timed out or could not be reached, after retries."""


def status_error(url: str, status: int, body: bytes) -> LogStatusError:
    """The LogStatusError for an answer, quoting the start of its body."""
    return LogStatusError(url, status, body[:200].decode("utf-8", "replace").strip())


class Getter:
    """GETs resources under base_url, at most ``concurrency`` requests in flight.

    Pass an ``httpx.AsyncClient`` to share its connection pool; otherwise the
    getter makes one and ``aclose()`` closes it.
    """

    def __init__(
        self,
        base_url: str,
        http: httpx.AsyncClient | None = None,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.1,
        concurrency: int = 8,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.owns_client = http is None
        self.http = http if http is not None else httpx.AsyncClient(timeout=timeout)
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.limiter = trio.CapacityLimiter(concurrency)

    async def aclose(self) -> None:
        """Close the HTTP client if this getter created it."""
        if self.owns_client:
            await self.http.aclose()

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    async def get(self, path: str, limit: int) -> bytes | None:
        """The body of GET path (at most limit + 1 bytes), or None on 404."""
        url = self.url(path)
        error: LogClientError = LogUnavailableError(url, "not attempted")
        for attempt in range(self.retries + 1):
            if attempt:
                await trio.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                status, body = await self.once(path, limit)
            except LogUnavailableError as e:
                error = e
                continue
            if status == 200:
                return body
            if status == 404:
                return None
            error = status_error(url, status, body)
            if status < 500:
                break
        raise error

    async def once(self, path: str, limit: int) -> tuple[int, bytes]:
        """One attempt: (status, body of at most limit + 1 bytes); LogUnavailableError."""
        url = self.url(path)
        async with self.limiter:
            with trio.move_on_after(self.timeout):
                try:
                    async with self.http.stream("GET", url, timeout=self.timeout) as resp:
                        body = bytearray()
                        async for chunk in resp.aiter_bytes():
                            body += chunk
                            if len(body) > limit:
                                break
                        return resp.status_code, bytes(body)
                except httpx.HTTPError as e:
                    raise LogUnavailableError(url, f"{type(e).__name__}: {e}") from None
        raise LogUnavailableError(url, f"no complete answer within {self.timeout} s")

    async def get_bounded(self, path: str, limit: int) -> bytes | None:
        """Like get, but a body over limit bytes is a LogClientError."""
        body = await self.get(path, limit)
        if body is not None and len(body) > limit:
            raise LogClientError(self.url(path), f"response is over {limit} bytes")
        return body

    async def require(self, path: str, limit: int) -> bytes:
        """Like get_bounded, but a 404 is a LogStatusError."""
        body = await self.get_bounded(path, limit)
        if body is None:
            raise LogStatusError(self.url(path), 404, "not found")
        return body


class ClosesGetter:
    """For a client whose Getter is ``_getter``: ``aclose()`` and ``async with`` close it."""

    _getter: Getter

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        await self._getter.aclose()


@contextmanager
def first_error() -> Iterator[None]:
    """Raise the first TlogError of a failed nursery by itself, as one sequential call would."""
    try:
        yield
    except BaseExceptionGroup as group:
        errors, _ = group.split(TlogError)
        if errors is None:
            raise
        first: BaseException = errors
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
