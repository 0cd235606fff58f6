"""One bad connection must not stop the server: a guard around hypercorn's trio connections.

hypercorn 0.18's trio worker runs each connection in the server's nursery and
catches only OSError there. A client that closes mid-body while the witness is
answering it can make hypercorn send its own error response while the socket
is still being shut down (trio.BusyResourceError, inside an exception group),
and that escapes the connection and ends the whole server: a remote crash
found by bench/witness_flood.py (cf. pgjones/hypercorn#203). The guard ends
only that connection, logs it once at warning level and counts it in
witness_http_connection_errors_total (the app object that hypercorn wraps
says how, through `connection_failed`).

It also counts the two slow-client limits that hypercorn enforces, through the
app's `limit_hit`: `header_timeout`, a connection closed by the keep-alive timer
while an unfinished request head was buffered (slowloris; an idle keep-alive
connection closing is not counted), and `header_bytes`, hypercorn's 431 answer
to an unfinished head over h11_max_incomplete_size.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import h11
import hypercorn.trio.run
import trio
from hypercorn.events import Event, RawData
from hypercorn.trio.tcp_server import TCPServer

log = logging.getLogger("witness.http")


class GuardedTCPServer(TCPServer):
    """hypercorn's connection handler, with every failure contained to its connection."""

    def _hook(self, name: str) -> Callable[..., None] | None:
        return getattr(getattr(self.app, "app", None), name, None)

    async def run(self) -> None:
        try:
            await super().run()
        except Exception as exc:  # includes exception groups; trio.Cancelled is not an Exception
            report = self._hook("connection_failed")
            if report is not None:
                report(exc)
            else:
                log.warning("connection failed", extra={"error": repr(exc)})

    async def protocol_send(self, event: Event) -> None:
        if isinstance(event, RawData) and event.data.startswith(b"HTTP/1.1 431 "):
            self._limit("header_bytes")
        await super().protocol_send(event)

    async def _idle_timeout(self) -> None:
        # hypercorn's own, plus the count: runs from connect (or the last response) until a
        # whole request head has arrived.
        with trio.move_on_after(self.config.keep_alive_timeout) as timer:
            await self.context.terminated.wait()
        if timer.cancelled_caught and self._partial_head():
            self._limit("header_timeout")
        with trio.CancelScope(shield=True):
            await self._initiate_server_close()

    def _partial_head(self) -> bool:
        connection = getattr(getattr(self, "protocol", None), "protocol", None)
        connection = getattr(connection, "connection", None)
        return isinstance(connection, h11.Connection) and bool(connection.trailing_data[0])

    def _limit(self, limit: str) -> None:
        hit = self._hook("limit_hit")
        if hit is not None:
            hit(limit)


def install() -> None:
    """Make hypercorn's trio worker use GuardedTCPServer for every connection (idempotent)."""
    hypercorn.trio.run.TCPServer = GuardedTCPServer  # type: ignore[misc]
