"""The witness's HTTP interface: an ASGI app over a `Witness`.

    POST /add-checkpoint           C2SP tlog-witness add-checkpoint
    GET  /<hex sha256(origin)>/checkpoint
                                   latest checkpoint with this witness's cosignature
    GET  /logs                     JSON: every log with size, root, last advance
    GET  /                         HTML status page
    GET  /healthz, GET /metrics    liveness and Prometheus metrics

plus the routes the daemon is given, matched first: gossip adds POST /gossip/v1,
GET /evidence[/<fingerprint>] and its own checkpoint path (with every cosignature).

Protocol outcomes map to responses in `_outcome_reply`, exceptions in
`_error_reply`: nowhere else. Every request ends in one JSON log line
(`witness.http`): debug for routine outcomes, info for bad requests, warning for
a log that sent a fork.
"""

from __future__ import annotations

import base64
import logging
import re
import time
from collections.abc import Sequence
from typing import Any

import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from witness.decide import LogState, Reason, Reject
from witness.discovery import discovery_document
from witness.errors import SignerError, StoreError, WitnessError
from witness.limits import (
    RETRY_AFTER,
    Admission,
    ClientLimiter,
    LimitsConfig,
    QueueFullError,
    Tarpit,
)
from witness.service import Cosigned, Witness
from witness.statuspage import choose_page, log_rows, own_cosigners, page_logs, render_status

MAX_BODY = 64 * 1024
BODY_TIMEOUT = 10.0
SIZE_CONTENT_TYPE = b"text/x.tlog.size"

log = logging.getLogger("witness.http")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class BodyTooLargeError(WitnessError):
    """A request body over MAX_BODY bytes."""


class BodyTimeoutError(WitnessError):
    """A request body that did not arrive within BODY_TIMEOUT seconds."""


class BodyIncompleteError(WitnessError):
    """The client went away before sending the whole body."""


_ERROR_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (BodyTooLargeError, 413),
    (BodyTimeoutError, 408),
    (BodyIncompleteError, 400),
    (StoreError, 503),
    (SignerError, 503),
    (QueueFullError, 503),
)
# witness_limited_requests{limit} for the errors that are abuse limits.
_LIMIT_OF: dict[type[Exception], str] = {
    BodyTooLargeError: "body_bytes",
    BodyTimeoutError: "body_timeout",
    QueueFullError: "queue",
}

_Reply = tuple[int, list[tuple[bytes, bytes]], bytes]
_TEXT = (b"content-type", b"text/plain; charset=utf-8")
_RETRY = (b"retry-after", str(RETRY_AFTER).encode())


def _error_reply(exc: Exception) -> _Reply:
    status = next((s for cls, s in _ERROR_STATUS if isinstance(exc, cls)), 500)
    if status == 503:
        return status, [_TEXT, _RETRY], f"{exc}\n".encode()
    return status, [_TEXT], f"{exc}\n".encode()


def _outcome_reply(outcome: Cosigned | Reject) -> _Reply:
    if isinstance(outcome, Cosigned):
        return 200, [_TEXT], outcome.lines
    if outcome.reason.status == 409:
        return 409, [(b"content-type", SIZE_CONTENT_TYPE)], f"{outcome.size}\n".encode()
    headers = [_TEXT]
    if outcome.retry_after is not None:
        headers.append((b"retry-after", str(outcome.retry_after).encode()))
    return outcome.reason.status, headers, f"{outcome.detail}\n".encode()


async def _read_body(scope: Scope, receive: Receive) -> bytes:
    length = dict(scope["headers"]).get(b"content-length", b"")
    if length.isdigit() and int(length) > MAX_BODY:
        raise BodyTooLargeError(f"request body of {int(length)} bytes is over {MAX_BODY} bytes")
    chunks, total, more = [], 0, True
    with trio.move_on_after(BODY_TIMEOUT):
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise BodyIncompleteError("client disconnected before sending the whole body")
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > MAX_BODY:
                raise BodyTooLargeError(f"request body is over {MAX_BODY} bytes")
            chunks.append(chunk)
            more = message.get("more_body", False)
    if more:
        raise BodyTimeoutError(f"request body took over {BODY_TIMEOUT:g} seconds")
    return b"".join(chunks)


def _log_entry(state: LogState, trusted: bool) -> dict[str, Any]:
    return {
        "origin": state.origin,
        "size": state.size,
        "root": None if state.root is None else base64.b64encode(state.root).decode(),
        "last_advance": state.updated,
        "trusted": trusted,
    }


def create_app(
    witness: Witness, routes: Sequence[BaseRoute] = (), limits: LimitsConfig | None = None
) -> ASGIApp:
    """The ASGI application serving `witness`, and `routes` before its own pages."""

    async def checkpoint(request: Request) -> Response:
        digest = request.path_params["origin_hash"]
        trusted = witness.registry.by_hash(digest) if _HEX64.fullmatch(digest) else None
        if trusted is None:
            note = None
        elif witness.keyring.blocking:
            note = await trio.to_thread.run_sync(witness.cosigned_checkpoint, trusted.origin)
        else:
            note = witness.cosigned_checkpoint(trusted.origin)
        if note is None:
            return PlainTextResponse("no cosigned checkpoint for this origin hash\n", 404)
        return PlainTextResponse(note)

    async def logs(request: Request) -> Response:
        entries = [
            _log_entry(s, witness.registry.get(s.origin) is not None)
            for s in witness.store.all_logs()
        ]
        return JSONResponse({"witness": witness.name, "logs": entries})

    async def status(request: Request) -> Response:
        page = choose_page(request.query_params, len(witness.registry))
        rows = log_rows(witness, page_logs(witness.registry, page), own_cosigners(witness))
        return HTMLResponse(render_status(witness.name, witness.keyring.vkeys(), rows, page))

    async def discovery(request: Request) -> Response:
        document = discovery_document(witness.name, str(request.base_url), witness.keyring)
        return JSONResponse(document)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def prometheus(request: Request) -> Response:
        body = witness.metrics.render()
        return Response(body, headers={"content-type": "text/plain; version=0.0.4"})

    pages = Starlette(
        routes=[
            *routes,
            Route("/logs", logs),
            Route("/healthz", healthz),
            Route("/metrics", prometheus),
            Route("/witness.v0.json", discovery),
            Route("/", status),
            Route("/{origin_hash}/checkpoint", checkpoint),
        ]
    )
    return _App(pages, witness, limits or LimitsConfig())


_ENDPOINTS = frozenset(
    {
        "/add-checkpoint",
        "/logs",
        "/healthz",
        "/metrics",
        "/",
        "/gossip/v1",
        "/evidence",
        "/witness.v0.json",
    }
)


def _endpoint(path: str) -> str:
    if path in _ENDPOINTS:
        return path
    if path.startswith("/evidence/"):
        return "/evidence/<fingerprint>"
    return "/<origin hash>/checkpoint" if path.endswith("/checkpoint") else "other"


GOSSIP_PATH = "/gossip/v1"  # gossip.http.PATH; roles below the witness are not imported here
_GONE = (trio.BusyResourceError, trio.BrokenResourceError, trio.ClosedResourceError)

# Requests worth an operator's attention by default; 200s and 409s are routine.
_NOTABLE = {
    r.label
    for r in (
        Reason.MALFORMED,
        Reason.UNKNOWN_LOG,
        Reason.BAD_SIGNATURE,
        Reason.OLD_AFTER_NEW,
        Reason.BAD_PROOF,
    )
}


def _level(status: int, fields: dict[str, Any]) -> int:
    if fields.get("reason") == Reason.FORK.label:
        return logging.WARNING
    if status >= 500:
        return logging.ERROR
    if status in (408, 413) or fields.get("reason") in _NOTABLE:
        return logging.INFO
    return logging.DEBUG


class _App:
    """The ASGI entry point: one metric and at most one log line per request.

    add-checkpoint is served here directly, not through Starlette: it is the hot
    path, and Starlette's request and response objects cost a tenth of its budget.
    """

    def __init__(self, pages: ASGIApp, witness: Witness, limits: LimitsConfig) -> None:
        self.pages = pages
        self.witness = witness
        self.clients = ClientLimiter(limits.client_requests_per_second, limits.client_burst)
        self.exempt = limits.exempt_clients
        self.admission = Admission(limits.max_inflight, limits.max_queue)
        self.tarpit = Tarpit()
        # Gossip messages are read whole (up to 8 MiB): their number bounds the memory.
        self.gossip = Admission(limits.max_gossip_inflight, limits.max_gossip_queue)
        self.limited = witness.metrics.limited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.pages(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        fields: dict[str, Any] = {}

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            client = scope.get("client")
            if (
                client is not None
                and client[0] not in self.exempt
                and not self.clients.allow(client[0])
            ):
                self.limited.labels("client").inc()
                held = await self.tarpit.hold(self.clients.wait(client[0]))
                await _send_reply(send_status, _TOO_MANY if held else _TOO_MANY_CLOSE)
            elif scope["path"] == "/add-checkpoint":
                await self.add_checkpoint(scope, receive, send_status, fields)
            elif scope["path"] == GOSSIP_PATH:
                await self.gated(self.gossip, "gossip_queue", scope, receive, send_status)
            else:
                await self.pages(scope, receive, send_status)
        except _GONE as e:
            # The client closed (or hypercorn is closing) the connection mid-answer.
            fields["error"] = f"connection closed while answering: {e!r}"
        finally:
            self.finish(scope, status, start, fields)

    async def gated(
        self, gate: Admission, limit: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Serve a page holding a slot of `gate`; 503 when its queue is full."""
        try:
            immediate = gate.enter()
        except QueueFullError as e:
            self.limited.labels(limit).inc()
            await _send_reply(send, _error_reply(e))
            return
        if not immediate:
            await gate.wait()
        try:
            await self.pages(scope, receive, send)
        finally:
            gate.leave()

    def limit_hit(self, limit: str) -> None:
        """Called by witness.connguard for the limits hypercorn enforces."""
        self.limited.labels(limit).inc()

    def connection_failed(self, exc: Exception) -> None:
        """Called by witness.connguard when hypercorn's handler of a connection failed."""
        self.witness.metrics.connection_errors.inc()
        log.warning("connection failed", extra={"error": repr(exc)})

    async def add_checkpoint(
        self, scope: Scope, receive: Receive, send: Send, fields: dict[str, Any]
    ) -> None:
        if scope["method"] != "POST":
            reply: _Reply = 405, [_TEXT, (b"allow", b"POST")], b"use POST\n"
        else:
            try:
                body = await _read_body(scope, receive)
                # Verification slots: taken without an await unless all are busy.
                if not self.admission.enter():
                    await self.admission.wait()
                try:
                    start = time.perf_counter()
                    outcome = await self.witness.add_checkpoint(body)
                    self.witness.metrics.latency.observe(time.perf_counter() - start)
                finally:
                    self.admission.leave()
                fields.update(_outcome_fields(outcome))
                reply = _outcome_reply(outcome)
                if reply[0] == 429:
                    self.limited.labels("log_qpd").inc()
            except WitnessError as e:
                fields["error"] = str(e)
                reply = _error_reply(e)
                limit = _LIMIT_OF.get(type(e))
                if limit is not None:
                    self.limited.labels(limit).inc()
        await _send_reply(send, reply)

    def finish(self, scope: Scope, status: int, start: float, fields: dict[str, Any]) -> None:
        self.witness.metrics.requests.labels(_endpoint(scope["path"]), str(status)).inc()
        level = _level(status, fields)
        if log.isEnabledFor(level):
            client = scope.get("client") or ("", 0)
            extra = {
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "ms": round((time.perf_counter() - start) * 1000, 2),
                "client": client[0],
                **fields,
            }
            log.log(level, "request", extra=extra)


_TOO_MANY: _Reply = (
    429,
    [_TEXT, _RETRY],
    b"too many requests from this address (witness limits.client_requests_per_second)\n",
)


_TOO_MANY_CLOSE: _Reply = (429, [*_TOO_MANY[1], (b"connection", b"close")], _TOO_MANY[2])


async def _send_reply(send: Send, reply: _Reply) -> None:
    status, headers, content = reply
    headers = [*headers, (b"content-length", str(len(content)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


def _outcome_fields(outcome: Cosigned | Reject) -> dict[str, Any]:
    if isinstance(outcome, Cosigned):
        cp = outcome.checkpoint
        return {"origin": cp.origin, "size": cp.size, "advanced": outcome.advanced}
    return {"reason": outcome.reason.label, "detail": outcome.detail}
