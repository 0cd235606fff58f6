"""witness.connguard's cheaper per-request path in hypercorn's connection handler.

The write coalescing is checked on the handler itself with a stream that
records its writes; the moving keep-alive deadline and 100 Continue against a
real witness over raw sockets.
"""

from __future__ import annotations

from pathlib import Path

import trio
from hypercorn.config import Config
from hypercorn.events import Closed, RawData, Updated

from tests.witness.test_limits import limited_config, serving
from witness.connguard import GuardedTCPServer


class RecordingStream:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    async def send_all(self, data: bytes) -> None:
        self.writes.append(bytes(data))


def handler() -> tuple[GuardedTCPServer, RecordingStream]:
    stream = RecordingStream()
    server = GuardedTCPServer(None, Config(), None, None, stream)  # type: ignore[arg-type]
    return server, stream


async def test_a_response_head_goes_out_with_its_body_in_one_write() -> None:
    server, stream = handler()
    head = b"HTTP/1.1 200 \r\ncontent-length: 3\r\n\r\n"
    for data in (head, b"abc", b""):
        await server.protocol_send(RawData(data=data))
    assert stream.writes == [head + b"abc"]


async def test_informational_responses_are_not_held() -> None:
    server, stream = handler()
    await server.protocol_send(RawData(data=b"HTTP/1.1 100 \r\n\r\n"))
    assert stream.writes == [b"HTTP/1.1 100 \r\n\r\n"]


async def test_a_held_head_is_flushed_before_idling_or_closing() -> None:
    server, stream = handler()
    head = b"HTTP/1.1 204 \r\n\r\n"
    server._close = trio.lowlevel.checkpoint  # type: ignore[method-assign]
    seen: list[object] = []

    class Protocol:
        async def handle(self, event: object) -> None:
            seen.append(event)

    server.protocol = Protocol()  # type: ignore[assignment]
    await server.protocol_send(RawData(data=head))
    await server.protocol_send(Closed())
    assert stream.writes == [head] and seen == [Closed()]

    server, stream = handler()
    await server.protocol_send(RawData(data=head))
    await server.protocol_send(Updated(idle=False))
    assert stream.writes == [head]


async def request(stream: trio.SocketStream, head: bytes, body: bytes = b"") -> bytes:
    await stream.send_all(head + body)
    response = b""
    while b"\r\n\r\n" not in response or not response.endswith(b"\n"):
        chunk = await stream.receive_some(65536)
        assert chunk, f"connection closed after {response!r}"
        response += chunk
    return response


async def test_keep_alive_connections_serve_requests_then_time_out(tmp_path: Path) -> None:
    """The idle deadline moves: off while a request runs, on again after each response."""
    config = limited_config(tmp_path, header_timeout_seconds=1.0)
    async with serving(config) as (_witness, _url, port):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            with trio.fail_after(30):
                for _ in range(3):
                    await trio.sleep(0.6)  # each wait is under the timeout, together over it
                    response = await request(stream, b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
                    assert response.startswith(b"HTTP/1.1 200 ") and response.endswith(b"ok\n")
                assert await stream.receive_some(4096) == b""


async def test_100_continue_is_answered_before_the_body(tmp_path: Path) -> None:
    config = limited_config(tmp_path)
    async with serving(config) as (_witness, _url, port):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            with trio.fail_after(30):
                body = b"not an add-checkpoint body\n"
                head = (
                    b"POST /add-checkpoint HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\n"
                    b"content-length: %d\r\n\r\n" % len(body)
                )
                await stream.send_all(head)
                interim = await stream.receive_some(4096)
                assert interim.startswith(b"HTTP/1.1 100 ")
                response = await request(stream, b"", body)
                assert response.startswith(b"HTTP/1.1 400 ")
