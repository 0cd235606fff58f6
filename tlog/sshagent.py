"""The SSH agent protocol (draft-miller-ssh-agent), the part a signer needs: pure codec.

Every message on the agent socket is `uint32 length || byte type || contents`,
with SSH wire types inside: `string` is `uint32 length || bytes`.

    SSH_AGENTC_REQUEST_IDENTITIES (11)  ->  SSH_AGENT_IDENTITIES_ANSWER (12):
        uint32 nkeys, then per key: string key blob, string comment
    SSH_AGENTC_SIGN_REQUEST (13): string key blob, string data, uint32 flags
                                        ->  SSH_AGENT_SIGN_RESPONSE (14): string signature
    SSH_AGENT_FAILURE (5) answers anything the agent refuses.

An Ed25519 key blob is `string "ssh-ed25519" || string key(32)`, its signature
blob `string "ssh-ed25519" || string sig(64)` (RFC 8709). OpenSSH names a key
by its fingerprint `SHA256:` + unpadded base64(SHA-256(key blob)).

No I/O here: witness.agent owns the socket.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from tlog.errors import KeyMaterialError, TlogError

FAILURE = 5
REQUEST_IDENTITIES = 11
IDENTITIES_ANSWER = 12
SIGN_REQUEST = 13
SIGN_RESPONSE = 14

ED25519 = b"ssh-ed25519"
# Agents answer in far less; a bound keeps a confused peer from making us buffer without end.
MAX_MESSAGE = 256 * 1024
MAX_IDENTITIES = 4096


class AgentProtocolError(TlogError):
    """Bytes from an SSH agent that do not follow the agent protocol, or a refusal."""


class AgentKeySpecError(KeyMaterialError):
    """An `ssh-agent:` key reference that is neither a fingerprint nor an Ed25519 key blob."""


@dataclass(frozen=True, slots=True)
class Identity:
    """A key the agent holds: its wire blob and the comment ssh-add gave it."""

    blob: bytes
    comment: str


def encode_string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def frame(kind: int, contents: bytes = b"") -> bytes:
    """One agent message with its length prefix."""
    return struct.pack(">IB", 1 + len(contents), kind) + contents


def request_identities() -> bytes:
    return frame(REQUEST_IDENTITIES)


def sign_request(blob: bytes, data: bytes, flags: int = 0) -> bytes:
    return frame(SIGN_REQUEST, encode_string(blob) + encode_string(data) + struct.pack(">I", flags))


def message_length(header: bytes) -> int:
    """The length of the message whose 4-byte prefix is `header` (type and contents)."""
    if len(header) != 4:
        raise AgentProtocolError(f"agent message header is {len(header)} bytes, want 4")
    (n,) = struct.unpack(">I", header)
    if not 1 <= n <= MAX_MESSAGE:
        raise AgentProtocolError(f"agent message length {n} is outside 1..{MAX_MESSAGE}")
    return n


def split_frame(buf: bytes) -> tuple[int, bytes, bytes] | None:
    """(type, contents, rest) of the first whole message in `buf`, or None if incomplete."""
    if len(buf) < 4:
        return None
    n = message_length(buf[:4])
    if len(buf) < 4 + n:
        return None
    return buf[4], buf[5 : 4 + n], buf[4 + n :]


class _Reader:
    def __init__(self, data: bytes, what: str) -> None:
        self.data, self.pos, self.what = data, 0, what

    def uint32(self) -> int:
        if self.pos + 4 > len(self.data):
            raise AgentProtocolError(f"{self.what}: truncated at byte {self.pos}")
        (v,) = struct.unpack_from(">I", self.data, self.pos)
        self.pos += 4
        return int(v)

    def string(self) -> bytes:
        n = self.uint32()
        if self.pos + n > len(self.data):
            raise AgentProtocolError(
                f"{self.what}: string of {n} bytes at byte {self.pos} runs past the end"
            )
        v = self.data[self.pos : self.pos + n]
        self.pos += n
        return v

    def end(self) -> None:
        if self.pos != len(self.data):
            raise AgentProtocolError(
                f"{self.what}: {len(self.data) - self.pos} trailing bytes at byte {self.pos}"
            )


def _expect(kind: int, want: int, what: str) -> None:
    if kind == FAILURE:
        raise AgentProtocolError(f"the agent refused the {what} (SSH_AGENT_FAILURE)")
    if kind != want:
        raise AgentProtocolError(f"{what}: agent answered message type {kind}, want {want}")


def parse_identities(kind: int, contents: bytes) -> list[Identity]:
    """The keys in an SSH_AGENT_IDENTITIES_ANSWER."""
    _expect(kind, IDENTITIES_ANSWER, "identities request")
    r = _Reader(contents, "identities answer")
    n = r.uint32()
    if n > MAX_IDENTITIES:
        raise AgentProtocolError(f"identities answer: {n} keys is over {MAX_IDENTITIES}")
    out = []
    for _ in range(n):
        blob = r.string()
        try:
            comment = r.string().decode("utf-8")
        except UnicodeDecodeError:
            raise AgentProtocolError("identities answer: comment is not UTF-8") from None
        out.append(Identity(blob, comment))
    r.end()
    return out


def parse_sign_response(kind: int, contents: bytes) -> bytes:
    """The 64-byte Ed25519 signature in an SSH_AGENT_SIGN_RESPONSE."""
    _expect(kind, SIGN_RESPONSE, "sign request")
    r = _Reader(contents, "sign response")
    blob = r.string()
    r.end()
    s = _Reader(blob, "signature blob")
    alg = s.string()
    if alg != ED25519:
        raise AgentProtocolError(f"signature blob: algorithm {alg[:64]!r}, want {ED25519!r}")
    sig = s.string()
    s.end()
    if len(sig) != 64:
        raise AgentProtocolError(f"signature blob: Ed25519 signature of {len(sig)} bytes, want 64")
    return sig


def ed25519_blob(public: bytes) -> bytes:
    """The wire blob of an Ed25519 public key."""
    if len(public) != 32:
        raise KeyMaterialError(f"Ed25519 public key is {len(public)} bytes, want 32")
    return encode_string(ED25519) + encode_string(public)


def ed25519_public(blob: bytes) -> bytes | None:
    """The 32-byte key of an Ed25519 key blob; None for any other key type or shape."""
    r = _Reader(blob, "key blob")
    try:
        alg = r.string()
        if alg != ED25519:
            return None
        key = r.string()
        r.end()
    except AgentProtocolError:
        return None
    return key if len(key) == 32 else None


def fingerprint(blob: bytes) -> str:
    """OpenSSH's SHA256 fingerprint of a key blob, as `ssh-add -l` prints it."""
    return fingerprint_of_digest(hashlib.sha256(blob).digest())


def parse_key_spec(spec: str) -> str:
    """Normalise a key reference to a fingerprint.

    Accepted: `SHA256:<43 base64 chars>` (`ssh-add -l`), the base64 key blob of an
    authorized_keys / `.pub` line (`AAAAC3NzaC1lZDI1NTE5...`), or that whole line
    (`ssh-ed25519 AAAA... comment`).
    """
    s = spec.strip()
    if s.startswith("SHA256:"):
        b64 = s[len("SHA256:") :]
        try:
            raw = base64.b64decode(b64 + "=" * (-len(b64) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise AgentKeySpecError(f"{spec!r}: fingerprint is not base64") from None
        if len(raw) != 32 or fingerprint_of_digest(raw) != s:
            raise AgentKeySpecError(f"{spec!r}: not a SHA256 fingerprint (43 base64 characters)")
        return s
    parts = s.split()
    if len(parts) >= 2 and parts[0] == ED25519.decode():
        s = parts[1]
    elif len(parts) != 1:
        raise AgentKeySpecError(
            f"{spec!r}: want SHA256:<fingerprint> or an ssh-ed25519 public key (base64 blob)"
        )
    try:
        blob = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        raise AgentKeySpecError(f"{spec!r}: want SHA256:<fingerprint> or a base64 key") from None
    if ed25519_public(blob) is None:
        raise AgentKeySpecError(f"{spec!r}: not an ssh-ed25519 public key blob")
    return fingerprint(blob)


def fingerprint_of_digest(digest: bytes) -> str:
    """`SHA256:` and the unpadded base64 of a 32-byte digest."""
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")
