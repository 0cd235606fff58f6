"""The gossip HTTP endpoints, as Starlette routes the witness server mounts first.

    POST /gossip/v1                 a signed gossip message (msgpack); 200 with the
                                    signed answer, or 204 when there is nothing to say
    GET  /<hex sha256(origin)>/checkpoint
                                    the latest checkpoint with every cosignature this
                                    witness knows (the distributor read path)
    GET  /evidence                  JSON list of the evidence and suspicion files held
    GET  /evidence/<fingerprint>    one file (docs/evidence-format.md)
    GET  /                          the witness status page, with cosigners, peers and
                                    evidence (gossip.status)

A message that fails a check gets a 4xx and changes nothing. Error -> status,
in one place (`_STATUS`): malformed 400, over MAX_MESSAGE_BYTES 413, unknown
sender or bad signature 403, replayed (or addressed to another witness, or
outside the clock window) 409, body not in within BODY_TIMEOUT 408.
"""

from __future__ import annotations

import re

import trio
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from gossip.errors import (
    BadSignatureError,
    GossipError,
    OversizedMessageError,
    ReplayError,
    UnknownSenderError,
)
from gossip.messages import MAX_MESSAGE_BYTES
from gossip.messenger import CONTENT_TYPE, PATH, rejection_reason
from gossip.node import GossipNode
from gossip.status import status_route

BODY_TIMEOUT = 30.0
_HEX64 = re.compile(r"[0-9a-f]{64}")
_STATUS: tuple[tuple[type[GossipError], int], ...] = (
    (OversizedMessageError, 413),
    (UnknownSenderError, 403),
    (BadSignatureError, 403),
    (ReplayError, 409),
)


class BodyTimeoutError(GossipError):
    """A message body that did not arrive within BODY_TIMEOUT seconds."""


def status_of(error: GossipError) -> int:
    """The HTTP status of a message that failed a check (400 unless listed)."""
    if isinstance(error, BodyTimeoutError):
        return 408
    return next((s for cls, s in _STATUS if isinstance(error, cls)), 400)


async def _read(request: Request) -> bytes:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_MESSAGE_BYTES:
        raise OversizedMessageError(f"message of {length} bytes is over {MAX_MESSAGE_BYTES}")
    body = bytearray()
    with trio.move_on_after(BODY_TIMEOUT) as scope:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_MESSAGE_BYTES:
                raise OversizedMessageError(f"message is over {MAX_MESSAGE_BYTES} bytes")
    if scope.cancelled_caught:
        raise BodyTimeoutError(f"message body took over {BODY_TIMEOUT:g} seconds")
    return bytes(body)


def routes(node: GossipNode) -> list[BaseRoute]:
    """The gossip routes of `node`'s witness."""

    async def gossip(request: Request) -> Response:
        try:
            data = await _read(request)
        except ClientDisconnect:
            return Response(status_code=400)
        except GossipError as e:
            node.metrics.rejected.labels(rejection_reason(e)).inc()
            return PlainTextResponse(f"{e}\n", status_of(e))
        try:
            reply = await node.receive(data)
        except GossipError as e:  # counted by the messenger
            return PlainTextResponse(f"{e}\n", status_of(e))
        if reply is None:
            return Response(status_code=204)
        return Response(reply, media_type=CONTENT_TYPE)

    async def checkpoint(request: Request) -> Response:
        digest = request.path_params["origin_hash"]
        trusted = node.witness.registry.by_hash(digest) if _HEX64.fullmatch(digest) else None
        if trusted is not None:
            await node.views.refresh([trusted.origin])
        view = None if trusted is None else node.views.get(trusted.origin)
        if view is None or view.note is None:
            return PlainTextResponse("no checkpoint for this origin hash\n", 404)
        return PlainTextResponse(view.note)

    async def evidence(request: Request) -> Response:
        frozen = node.state.frozen
        return JSONResponse(
            [
                {
                    "fingerprint": h.fingerprint,
                    "kind": h.kind,
                    "origin": h.origin,
                    "witness": h.witness,
                    "source": h.source,
                    "received": h.received,
                    "froze_log": h.origin in frozen
                    and frozen[h.origin].fingerprint == h.fingerprint,
                }
                for h in sorted(node.state.held.values(), key=lambda h: h.received)
            ]
        )

    async def evidence_file(request: Request) -> Response:
        fingerprint = request.path_params["fingerprint"]
        file = await node.state.read_file(fingerprint) if _HEX64.fullmatch(fingerprint) else None
        if file is None:
            return PlainTextResponse("no evidence with this fingerprint\n", 404)
        return Response(file, media_type="text/plain; charset=utf-8")

    return [
        Route(PATH, gossip, methods=["POST"]),
        Route("/evidence", evidence),
        Route("/evidence/{fingerprint}", evidence_file),
        Route("/{origin_hash}/checkpoint", checkpoint),
        status_route(node),
    ]
