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

And it removes two per-request costs that made hypercorn's handler about two
thirds of the witness's CPU per add-checkpoint (bench/witness_load.py; an empty
ASGI app measured 560-700 µs of CPU per request before, about 300 µs after):

- hypercorn restarts its keep-alive timer as a new task after every response
  and cancels it when the next request starts. Here one watchdog per
  connection lives as long as the connection, and each response only moves the
  deadline of its cancel scope (to infinity while a request is in progress).
- hypercorn writes a response's head, its body and its (empty) end as three
  locked socket writes. Here a final response head is held until the body
  arrives and both go out in one write; empty writes are dropped. Anything
  else (100 Continue, closing, idling) flushes a held head first, so nothing
  waits on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from math import inf
from typing import Any

import h11
import hypercorn.trio.run
import trio
from hypercorn.events import Event, RawData
from hypercorn.trio.task_group import TaskGroup
from hypercorn.trio.tcp_server import TCPServer

log = logging.getLogger("witness.http")

# h11 writes every response status line as HTTP/1.1; 1xx responses are not final.
_FINAL_HEAD = b"HTTP/1.1 "
_INFORMATIONAL = b"HTTP/1.1 1"


class _IdleDeadline:
    """Stands in for hypercorn's TrioSingleTask idle timer: one watchdog, a moving deadline."""

    def __init__(self, server: GuardedTCPServer) -> None:
        self._server = server
        self._scope: trio.CancelScope | None = None

    async def restart(self, task_group: TaskGroup, action: Callable[..., Any]) -> None:
        deadline = trio.current_time() + self._server.config.keep_alive_timeout
        if self._scope is None:
            self._scope = await task_group._nursery.start(self._server._watch_idle, deadline)
        else:
            self._scope.deadline = deadline

    async def stop(self) -> None:
        if self._scope is not None:
            self._scope.deadline = inf


class GuardedTCPServer(TCPServer):
    """hypercorn's connection handler, with every failure contained to its connection."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.idle_task = _IdleDeadline(self)  # type: ignore[assignment]
        self._held_head = b""

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
        if isinstance(event, RawData):
            data = event.data
            if data.startswith(_FINAL_HEAD) and not data.startswith(_INFORMATIONAL):
                if data.startswith(b"HTTP/1.1 431 "):
                    self._limit("header_bytes")
                self._held_head += data
                return
            if self._held_head:
                data, self._held_head = self._held_head + data, b""
            if not data:
                return
            event = RawData(data=data)
        elif self._held_head:
            held, self._held_head = self._held_head, b""
            await super().protocol_send(RawData(data=held))
        await super().protocol_send(event)

    async def _watch_idle(
        self, deadline: float, *, task_status: trio.TaskStatus[trio.CancelScope]
    ) -> None:
        # hypercorn's idle timeout, plus the count: the deadline runs from connect (or the
        # last response) until a whole request head has arrived; shutdown also ends it.
        with trio.CancelScope(deadline=deadline) as timer:
            task_status.started(timer)
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
