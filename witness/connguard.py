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
"""

from __future__ import annotations

import logging

import hypercorn.trio.run
from hypercorn.trio.tcp_server import TCPServer

log = logging.getLogger("witness.http")


class GuardedTCPServer(TCPServer):
    """hypercorn's connection handler, with every failure contained to its connection."""

    async def run(self) -> None:
        try:
            await super().run()
        except Exception as exc:  # includes exception groups; trio.Cancelled is not an Exception
            report = getattr(getattr(self.app, "app", None), "connection_failed", None)
            if report is not None:
                report(exc)
            else:
                log.warning("connection failed", extra={"error": repr(exc)})


def install() -> None:
    """Make hypercorn's trio worker use GuardedTCPServer for every connection (idempotent)."""
    hypercorn.trio.run.TCPServer = GuardedTCPServer  # type: ignore[misc]
