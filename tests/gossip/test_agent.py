"""Gossip with a witness key in a real ssh-agent: messages and cosignatures are signed by
the agent in worker threads, never on the event loop, and verify at the peer."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import struct
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from types import FrameType
from typing import TypeVar

import httpx
import trio
from cryptography.hazmat.primitives.asymmetric import ed25519

import witness.agent
from tests.gossip import COSIGNERS, LOG_VERIFIERS, ORIGIN, WITNESS_KEYS, WITNESSES, forked
from tests.gossip.harness import Node, Router, gossip_nodes, settle
from tests.witness import test_agent
from tlog.keys import Ed25519NoteSigner
from tlog.note import parse_note, verify_note
from witness.agent import AgentEd25519Key, find_agent_key

agent = test_agent.agent  # the fixture: a real ssh-agent, as SSH_AUTH_SOCK

T = TypeVar("T")

MAIN, _ = forked(5, 40)
# Long enough that the loop surely resumes a stopped agent before a signature made in a
# worker thread gives up; a signature made on the loop fails after it.
SLOW_AGENT_TIMEOUT = 20.0


def in_agent(agent: test_agent.Agent, tmp_path: Path, timeout: float) -> AgentEd25519Key:
    """WITNESS_KEYS[0], added to the agent and used through it."""
    fp = agent.add(tmp_path, ed25519.Ed25519PrivateKey.from_private_bytes(WITNESS_KEYS[0].seed))
    key = find_agent_key(WITNESS_KEYS[0].name, fp, agent.socket, timeout)
    assert key.vkey() == WITNESS_KEYS[0].vkey() and key.blocking
    assert isinstance(key, Ed25519NoteSigner) and isinstance(WITNESS_KEYS[0], Ed25519NoteSigner)
    return key


def agent_pid(path: str) -> int:
    """The pid of the process listening on the UNIX socket `path` (SO_PEERCRED)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(path)
        creds = s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[0])


def cosigners(note: bytes | None) -> set[str]:
    """The witnesses whose cosignatures on the log-signed `note` verify."""
    assert note is not None
    verify_note(parse_note(note), LOG_VERIFIERS)
    return {v.name for v in verify_note(parse_note(note), WITNESSES)}


@asynccontextmanager
async def agent_nodes(
    agent: test_agent.Agent, tmp_path: Path, timeout: float
) -> AsyncIterator[tuple[list[Node], Router]]:
    """Two gossiping witnesses, w0's key in the agent, each with the log at size 20."""
    keys = [in_agent(agent, tmp_path, timeout), WITNESS_KEYS[1]]
    async with gossip_nodes(tmp_path, [MAIN, MAIN], keys=keys) as (nodes, router):
        for n in nodes:
            await n.feed(MAIN, 20)
        yield nodes, router


def waiting_on_agent() -> bool:
    """Whether a thread other than this one is inside witness.agent (a signature in flight)."""
    me = threading.get_ident()
    for ident, top in sys._current_frames().items():
        frame: FrameType | None = top
        while ident != me and frame is not None:
            if frame.f_code.co_filename == witness.agent.__file__:
                return True
            frame = frame.f_back
    return False


async def test_an_agent_key_gossips_and_its_messages_verify(
    agent: test_agent.Agent, tmp_path: Path
) -> None:
    async with agent_nodes(agent, tmp_path, witness.agent.AGENT_TIMEOUT) as (nodes, _):
        assert nodes[0].witness.keyring.blocking and not nodes[1].witness.keyring.blocking
        assert await nodes[0].gossip.exchange(nodes[1].gossip.me) == "exchanged"
        await settle(*nodes)
        assert await nodes[1].gossip.exchange(nodes[0].gossip.me) == "in_sync"
        both = {COSIGNERS[0].name, COSIGNERS[1].name}
        assert cosigners(nodes[0].view.note) == both
        assert cosigners(nodes[1].view.note) == both
        for n in nodes:
            rejected = n.gossip.metrics.rejected.collect()[0].samples
            assert sum(s.value for s in rejected) == 0


async def while_agent_stopped(pid: int, work: Callable[[], Awaitable[T]]) -> T:
    """Run `work` with the agent stopped (SIGSTOP) until a worker thread waits on it.

    A signature made in a worker thread leaves the loop free to resume the agent, and
    `work` completes; one made on the loop itself fails at the agent timeout.
    """
    os.kill(pid, signal.SIGSTOP)
    resumed = False

    async def resume_when_asked() -> None:
        nonlocal resumed
        while not waiting_on_agent():
            await trio.sleep(0.01)
        os.kill(pid, signal.SIGCONT)
        resumed = True

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(resume_when_asked)
            result = await work()
            nursery.cancel_scope.cancel()
    finally:
        os.kill(pid, signal.SIGCONT)
    assert resumed
    return result


async def test_message_signatures_do_not_hold_up_the_event_loop(
    agent: test_agent.Agent, tmp_path: Path
) -> None:
    async with agent_nodes(agent, tmp_path, SLOW_AGENT_TIMEOUT) as (nodes, _):
        await nodes[0].gossip.views.refresh()  # so the message is the first to sign
        outcome = await while_agent_stopped(
            agent_pid(agent.socket), partial(nodes[0].gossip.exchange, nodes[1].gossip.me)
        )
        assert outcome == "exchanged"
        await settle(*nodes)
        assert cosigners(nodes[1].view.note) == {COSIGNERS[0].name, COSIGNERS[1].name}


async def test_view_cosignatures_do_not_hold_up_the_event_loop(
    agent: test_agent.Agent, tmp_path: Path
) -> None:
    async with agent_nodes(agent, tmp_path, SLOW_AGENT_TIMEOUT) as (_, router):
        url = f"http://w0.test/{hashlib.sha256(ORIGIN.encode()).hexdigest()}/checkpoint"
        async with httpx.AsyncClient(transport=router) as http:
            resp = await while_agent_stopped(agent_pid(agent.socket), partial(http.get, url))
        assert resp.status_code == 200, resp.text
        assert cosigners(resp.content) == {COSIGNERS[0].name}
