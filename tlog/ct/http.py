"""The HTTP GET both CT clients share: deadline, retries with backoff, bounded bodies.

Same contract as tlog.tiles_client: 5xx, timeouts and connection errors are
retried with exponential backoff; a 404 is returned as None for the caller to
interpret; any other status raises LogStatusError. Bodies are read up to a
limit (after gzip decoding, which httpx applies), so a hostile log cannot
make the client buffer more than the resource may hold.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import trio

from tlog.errors import TlogError
from tlog.tiles_client import LogClientError, LogStatusError, LogUnavailableError


class Fetcher:
    """GETs resources under base_url with at most `concurrency` requests in flight."""

    def __init__(
        self,
        base_url: str,
        http: httpx.AsyncClient,
        *,
        timeout: float,
        retries: int = 3,
        backoff: float = 0.1,
        concurrency: int = 8,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.limiter = trio.CapacityLimiter(concurrency)

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    async def get(self, path: str, limit: int) -> bytes | None:
        """The body of GET path, or None on 404; LogStatusError over limit bytes."""
        url = self.url(path)
        error: LogClientError = LogUnavailableError(url, "not attempted")
        for attempt in range(self.retries + 1):
            if attempt:
                await trio.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                status, body = await self._once(url, limit)
            except LogUnavailableError as e:
                error = e
                continue
            if status == 200:
                if len(body) > limit:
                    raise LogClientError(url, f"response is over {limit} bytes")
                return body
            if status == 404:
                return None
            error = LogStatusError(url, status, body[:200].decode("utf-8", "replace").strip())
            if status < 500:
                break
        raise error

    async def _once(self, url: str, limit: int) -> tuple[int, bytes]:
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

    async def require(self, path: str, limit: int) -> bytes:
        """Like get, but a 404 is a LogStatusError."""
        body = await self.get(path, limit)
        if body is None:
            raise LogStatusError(self.url(path), 404, "not found")
        return body


@contextmanager
def first_error() -> Iterator[None]:
    """Raise the first TlogError of a failed nursery by itself, as a sequential call would."""
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
