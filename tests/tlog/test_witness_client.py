"""The log side of tlog-witness against scripted witness answers (httpx.MockTransport)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import httpx
import pytest

from tlog.checkpoint import Checkpoint
from tlog.cosignature import CosignatureV1Signer
from tlog.keys import generate_signer
from tlog.merkle import MemoryTree
from tlog.note import Note, Signature, sign_note
from tlog.witness_client import (
    MAX_RESPONSE_BYTES,
    WitnessClient,
    WitnessClientError,
    WitnessRejectedError,
    WitnessUnavailableError,
)

LOG = generate_signer("example.com/log")
WITNESS = CosignatureV1Signer(generate_signer("example.com/witness"))
TREE = MemoryTree(bytes([i]) * 32 for i in range(20))


def note(size: int) -> Note:
    return sign_note(Checkpoint(LOG.name, size, TREE.root(size)).body(), [LOG])


def cosignature(n: Note) -> bytes:
    return Signature(WITNESS.name, WITNESS.key_id, WITNESS.sign(n.text.encode())).line().encode()


def size_conflict(size: int) -> httpx.Response:
    return httpx.Response(409, headers={"content-type": "text/x.tlog.size"}, content=b"%d\n" % size)


Answer = Callable[[bytes], httpx.Response]


def client(answers: Sequence[Answer], known_size: int = 0) -> tuple[WitnessClient, list[bytes]]:
    """A client whose witness gives `answers` in turn; the list collects the request bodies."""
    bodies: list[bytes] = []

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/add-checkpoint"
        bodies.append(request.content)
        return answers[len(bodies) - 1](request.content)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    return WitnessClient("http://w", WITNESS.verifier(), http, known_size=known_size), bodies


async def proofs(old: int, new: int) -> list[bytes]:
    return TREE.consistency_proof(old, new)


async def test_409_is_retried_with_the_witness_size_and_a_proof() -> None:
    n = note(12)
    w, bodies = client(
        [lambda _: size_conflict(5), lambda _: httpx.Response(200, content=cosignature(n))]
    )
    sigs = await w.add_checkpoint(n, 12, proofs)
    assert [s.name for s in sigs] == [WITNESS.name]
    assert w.known_size == 12
    assert bodies[0].startswith(b"old 0\n\n")
    assert bodies[1].split(b"\n")[0] == b"old 5"
    assert len(bodies[1].split(b"\n\n")[0].split(b"\n")) == 1 + len(TREE.consistency_proof(5, 12))


async def test_other_lines_in_a_200_are_ignored_but_ours_must_verify() -> None:
    n = note(3)
    other = CosignatureV1Signer(generate_signer("example.com/other"))
    line = Signature(other.name, other.key_id, other.sign(n.text.encode())).line().encode()
    w, _ = client([lambda _: httpx.Response(200, content=line + cosignature(n))])
    assert len(await w.add_checkpoint(n, 3, proofs)) == 1
    w, _ = client([lambda _: httpx.Response(200, content=line)])
    with pytest.raises(WitnessClientError):
        await w.add_checkpoint(n, 3, proofs)


@pytest.mark.parametrize(
    ("answers", "match"),
    [
        ([lambda _: size_conflict(15)], "cosigned size 15 > 12"),
        (
            [lambda _: size_conflict(12), lambda _: size_conflict(12)],
            "another checkpoint of size 12",
        ),
        ([lambda _: size_conflict(4), lambda _: size_conflict(6)], "kept changing"),
        ([lambda _: httpx.Response(422, content=b"bad proof\n")], "422: bad proof"),
        ([lambda _: httpx.Response(409, content=b"5\n")], "409"),
    ],
)
async def test_refusals(answers: list[Answer], match: str) -> None:
    w, _ = client(answers)
    with pytest.raises(WitnessRejectedError, match=match):
        await w.add_checkpoint(note(12), 12, proofs)


async def test_bad_answers() -> None:
    huge = [lambda _: httpx.Response(200, content=b"x" * (MAX_RESPONSE_BYTES + 1))]
    w, _ = client(huge)
    with pytest.raises(WitnessClientError, match="response over"):
        await w.add_checkpoint(note(2), 2, proofs)
    garbled = [
        lambda _: httpx.Response(409, headers={"content-type": "text/x.tlog.size"}, content=b"05")
    ]
    w, _ = client(garbled)
    with pytest.raises(WitnessClientError, match="bad 409 body"):
        await w.add_checkpoint(note(2), 2, proofs)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(refuse))
    with pytest.raises(WitnessUnavailableError):
        await WitnessClient("http://w", WITNESS.verifier(), http).add_checkpoint(note(2), 2, proofs)
