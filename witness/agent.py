"""Signing through an ssh-agent: the witness key never enters the witness process.

`AgentClient` speaks the agent protocol (tlog.sshagent) over the UNIX socket
named by SSH_AUTH_SOCK, with blocking calls under a timeout. `AgentEd25519Key`
is an Ed25519 key held by the agent; it is a tlog.keys.Ed25519NoteSigner, like
Ed25519Signer, so a CosignatureV1Signer and the gossip messenger use it unchanged.

Its calls block, so `blocking` is True and the witness and gossip sign in a worker
thread (witness.service, gossip.messenger, gossip.views); each thread keeps its own
connection, so concurrent signatures never share a socket and need no lock.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass, field

from tlog.errors import KeyMaterialError
from tlog.keys import ALG_ED25519, Ed25519Verifier, encode_vkey, key_id
from tlog.note import is_valid_key_name
from tlog.sshagent import (
    AgentProtocolError,
    Identity,
    ed25519_public,
    fingerprint,
    message_length,
    parse_identities,
    parse_key_spec,
    parse_sign_response,
    request_identities,
    sign_request,
)

AGENT_TIMEOUT = 5.0
PREFIX = "ssh-agent:"


class AgentError(KeyMaterialError):
    """The agent cannot be reached, does not hold the key, or will not sign."""


class AgentClient:
    """One blocking connection to an ssh-agent; reconnects once if the agent dropped it."""

    def __init__(self, path: str, timeout: float = AGENT_TIMEOUT) -> None:
        self.path = path
        self.timeout = timeout
        self._sock: socket.socket | None = None

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except OSError as e:
            sock.close()
            raise AgentError(f"cannot connect to the ssh-agent at {self.path}: {e}") from None
        return sock

    def _recv_exactly(self, sock: socket.socket, n: int) -> bytes:
        chunks, got = [], 0
        while got < n:
            chunk = sock.recv(n - got)
            if not chunk:
                raise ConnectionResetError("the agent closed the connection")
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def _roundtrip_once(self, message: bytes) -> tuple[int, bytes]:
        if self._sock is None:
            self._sock = self._connect()
        sock = self._sock
        sock.sendall(message)
        n = message_length(self._recv_exactly(sock, 4))
        body = self._recv_exactly(sock, n)
        return body[0], body[1:]

    def roundtrip(self, message: bytes) -> tuple[int, bytes]:
        """Send one request, return the (type, contents) of the answer."""
        for attempt in (1, 2):
            try:
                return self._roundtrip_once(message)
            except AgentProtocolError:
                self.close()
                raise
            except OSError as e:
                self.close()
                if attempt == 2 or isinstance(e, TimeoutError):
                    raise AgentError(f"ssh-agent at {self.path}: {e or type(e).__name__}") from None
        raise AssertionError("unreachable")

    def identities(self) -> list[Identity]:
        return parse_identities(*self.roundtrip(request_identities()))

    def sign(self, blob: bytes, data: bytes) -> bytes:
        return parse_sign_response(*self.roundtrip(sign_request(blob, data)))


def socket_path(environ: dict[str, str] | None = None) -> str:
    path = (os.environ if environ is None else environ).get("SSH_AUTH_SOCK")
    if not path:
        raise AgentError("SSH_AUTH_SOCK is not set: start ssh-agent and export its socket path")
    return path


@dataclass(frozen=True)
class AgentEd25519Key:
    """An Ed25519 key in an ssh-agent, under the note key name `name`."""

    name: str
    path: str
    blob: bytes
    timeout: float = AGENT_TIMEOUT
    public: bytes = field(init=False)
    key_id: int = field(init=False)
    _local: threading.local = field(init=False, repr=False, compare=False)

    blocking = True

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise KeyMaterialError(f"invalid key name {self.name!r}")
        public = ed25519_public(self.blob)
        if public is None:
            raise AgentError(f"{fingerprint(self.blob)} is not an ssh-ed25519 key")
        object.__setattr__(self, "public", public)
        object.__setattr__(self, "key_id", key_id(self.name, ALG_ED25519, public))
        object.__setattr__(self, "_local", threading.local())

    def _client(self) -> AgentClient:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = AgentClient(self.path, self.timeout)
        return client

    def sign_raw(self, message: bytes) -> bytes:
        """Ed25519 over `message`, by the agent (blocks: call from a worker thread)."""
        return self._client().sign(self.blob, message)

    def sign(self, text: bytes) -> bytes:
        return self.sign_raw(text)

    def verifier(self) -> Ed25519Verifier:
        return Ed25519Verifier(self.name, self.public)

    def vkey(self) -> str:
        return encode_vkey(self.name, self.key_id, ALG_ED25519, self.public)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.blob)


def find_agent_key(
    name: str, spec: str, path: str, timeout: float = AGENT_TIMEOUT
) -> AgentEd25519Key:
    """The agent's Ed25519 key matching `spec` (a fingerprint or public key, tlog.sshagent).

    Signs a probe message and checks the signature, so a daemon that starts can sign.
    """
    want = parse_key_spec(spec)
    client = AgentClient(path, timeout)
    try:
        try:
            held = client.identities()
        except AgentProtocolError as e:
            raise AgentError(f"ssh-agent at {path}: {e}") from None
        match = next((i for i in held if fingerprint(i.blob) == want), None)
        if match is None:
            listed = ", ".join(fingerprint(i.blob) for i in held) or "no keys"
            raise AgentError(
                f"the ssh-agent at {path} does not hold key {want} (it holds {listed}); "
                "add it with ssh-add"
            )
        key = AgentEd25519Key(name, path, match.blob, timeout)
        probe = b"witnessnet ssh-agent probe\n"
        try:
            sig = client.sign(match.blob, probe)
        except AgentProtocolError as e:
            raise AgentError(f"ssh-agent at {path} will not sign with {want}: {e}") from None
        if not key.verifier().verify(probe, sig):
            raise AgentError(f"ssh-agent at {path} returned a bad signature for {want}")
        return key
    finally:
        client.close()
