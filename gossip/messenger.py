"""Signed gossip messages in and out over HTTP.

A message goes as the body of `POST /gossip/v1` (CONTENT_TYPE); the answer is
either 200 with the peer's signed message, or 204 when it has nothing to say.
Outgoing messages take the next durable sequence number (GossipState); a
received message, request or response, is opened with open_message against
the replay guard, and its sequence number is persisted before anything in it
is acted on. A message that fails a check is counted by reason and changes
nothing. Every request runs under the gossip timeout and reads at most
MAX_MESSAGE_BYTES of answer. A request that gets no answer (a transport error
or the timeout: the request or its answer was lost) may be sent again, as a
fresh message with the next sequence number (the peer's replay guard refuses a
reused one), under a timeout of its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import httpx
import trio

from gossip.errors import (
    BadSignatureError,
    GossipError,
    OversizedMessageError,
    PeerError,
    ReplayError,
    UnknownSenderError,
)
from gossip.membership import Member, Network
from gossip.messages import (
    MAX_MESSAGE_BYTES,
    Message,
    Payload,
    ReplayGuard,
    encode_message,
    open_message,
)
from gossip.metrics import GossipMetrics
from gossip.state import GossipState
from tlog.keys import Ed25519NoteSigner

PATH = "/gossip/v1"
CONTENT_TYPE = "application/vnd.witnessnet.gossip+msgpack"

log = logging.getLogger("gossip")


def rejection_reason(error: GossipError) -> str:
    """The metric label of a message that failed a check."""
    if isinstance(error, OversizedMessageError):
        return "oversized"
    if isinstance(error, UnknownSenderError):
        return "unknown_sender"
    if isinstance(error, BadSignatureError):
        return "bad_signature"
    if isinstance(error, ReplayError):
        return "replay"
    return "malformed"


class Messenger:
    """Sends and opens this witness's gossip messages."""

    def __init__(
        self,
        me: Member,
        signer: Ed25519NoteSigner,
        network: Network,
        state: GossipState,
        http: httpx.AsyncClient,
        metrics: GossipMetrics,
        *,
        timeout: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.me = me
        self.network = network
        self._signer = signer
        self._state = state
        self._http = http
        self._metrics = metrics
        self._timeout = timeout
        self._clock = clock
        self._guard = ReplayGuard(state.seen())
        # For the status page: when each peer last answered or sent a valid message, and
        # the last failure of a request to it (time, error).
        self.last_ok: dict[str, float] = {}
        self.last_error: dict[str, tuple[float, str]] = {}

    def peers(self) -> list[Member]:
        """Every member but this witness."""
        return [m for m in self.network.members if m.name != self.me.name]

    async def open(self, data: bytes) -> Message:
        """Authenticate and de-duplicate a received message, durably.

        Raises the GossipError of the first check that fails; then nothing changed.
        """
        try:
            msg = open_message(
                data, me=self.me.name, network=self.network, guard=self._guard, now=self._clock()
            )
        except GossipError as e:
            self._metrics.rejected.labels(rejection_reason(e)).inc()
            raise
        await self._state.save_seen(msg.sender, msg.seq)
        self.last_ok[msg.sender] = self._clock()
        return msg

    async def encode(self, recipient: str, payloads: Sequence[Payload]) -> bytes:
        """The signed wire bytes of a message to `recipient`."""
        now = self._clock()
        seq = await self._state.next_sequence(now)
        message = Message(self.me.name, recipient, seq, int(now), tuple(payloads))
        if self._signer.blocking:
            # An ssh-agent key: one socket round trip per message, up to its timeout.
            return await trio.to_thread.run_sync(encode_message, message, self._signer)
        return encode_message(message, self._signer)

    async def post(
        self, peer: Member, payloads: Sequence[Payload], *, attempts: int = 1
    ) -> Message | None:
        """Send a message to `peer`; its answer (None for 204). Raises PeerError.

        While `peer` is unreachable (transport error or timeout) the payloads are sent
        again, in a fresh message, up to `attempts` times in all. A refusal or a bad
        answer is not retried.
        """
        for _ in range(attempts - 1):
            try:
                return await self._post_once(peer, payloads)
            except PeerError as e:
                if e.outcome != "unreachable":
                    self.last_error[peer.name] = (self._clock(), str(e))
                    raise
                log.info("gossip request lost, sending again", extra={"peer": peer.name})
        try:
            return await self._post_once(peer, payloads)
        except PeerError as e:
            self.last_error[peer.name] = (self._clock(), str(e))
            raise

    async def _post_once(self, peer: Member, payloads: Sequence[Payload]) -> Message | None:
        data = await self.encode(peer.name, payloads)
        url = peer.url.rstrip("/") + PATH
        try:
            with trio.fail_after(self._timeout):
                status, body = await self._send(url, data)
        except (httpx.HTTPError, trio.TooSlowError) as e:
            raise PeerError("unreachable", f"{peer.name} at {url}: {e!r}") from None
        if status == 204:
            self.last_ok[peer.name] = self._clock()
            return None
        if status != 200:
            text = body[:200].decode("utf-8", "replace").strip()
            raise PeerError("refused", f"{peer.name} answered {status}: {text}")
        try:
            msg = await self.open(body)
        except GossipError as e:
            raise PeerError("bad_response", f"{peer.name} answered a bad message: {e}") from None
        if msg.sender != peer.name:
            raise PeerError("bad_response", f"{peer.name} answered with a message of {msg.sender}")
        return msg

    async def _send(self, url: str, data: bytes) -> tuple[int, bytes]:
        headers = {"content-type": CONTENT_TYPE}
        async with self._http.stream("POST", url, content=data, headers=headers) as resp:
            body = bytearray()
            async for chunk in resp.aiter_bytes():
                body += chunk
                if len(body) > MAX_MESSAGE_BYTES:
                    raise PeerError(
                        "bad_response", f"{url} answered over {MAX_MESSAGE_BYTES} bytes"
                    )
            return resp.status_code, bytes(body)
