"""The witness network file: who gossips with whom.

The file is lines of items separated by ASCII spaces and tabs, in the style of
C2SP tlog-policy (a `witness` line here is a policy `witness` line whose URL
is required):

    # comment
    witness <name> <vkey> <url>

plus blank lines and `#` comment lines. `name` is the witness's gossip
identity: the `from` and `to` of its messages. It is a valid note key name,
unique in the file. `vkey` is the witness's Ed25519 key, as a type 0x01
(signed-note) or 0x04 (cosignature/v1) vkey: the same key signs gossip
messages and cosignatures. Keys are unique in the file. `url` is the http or
https base URL where the witness serves gossip. UTF-8; no control characters
other than tab and newline.

Peers are chosen uniformly at random among the other members, never by
locality (choose_peer).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from gossip.errors import MembershipError
from tlog.cosignature import CosignatureV1Verifier
from tlog.errors import KeyMaterialError
from tlog.keys import ALG_COSIGNATURE_V1, ALG_ED25519, key_id, split_key
from tlog.note import is_valid_key_name

MAX_MEMBERS = 10_000
_WHITESPACE = re.compile("[ \t]+")
_FORBIDDEN = re.compile("[\x00-\x08\x0a-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Member:
    """One witness: gossip name, vkey as written, base URL, and its Ed25519 public key.

    `key_name` is the key name inside the vkey: the name its cosignature lines carry.
    """

    name: str
    vkey: str
    url: str
    key_name: str
    public: bytes

    def cosigner(self) -> CosignatureV1Verifier:
        """The verifier of this witness's cosignature/v1 lines."""
        return CosignatureV1Verifier(self.key_name, self.public)


@dataclass(frozen=True, slots=True)
class Network:
    """The members of a witness network, in file order."""

    members: tuple[Member, ...]

    def get(self, name: str) -> Member | None:
        """The member called `name`, or None."""
        return next((m for m in self.members if m.name == name), None)

    def cosigners(self) -> list[CosignatureV1Verifier]:
        """Every member's cosignature verifier."""
        return [m.cosigner() for m in self.members]


def _parse_key(where: str, vkey: str) -> tuple[str, bytes]:
    try:
        p = split_key(vkey, "vkey")
    except KeyMaterialError as e:
        raise MembershipError(f"{where}: {e}") from None
    if p.alg not in (ALG_ED25519, ALG_COSIGNATURE_V1) or len(p.material) != 32:
        raise MembershipError(
            f"{where}: key for {p.name} is not an Ed25519 key (type 0x01 or 0x04, 32 bytes); "
            "gossip messages are signed with Ed25519"
        )
    if p.key_id != key_id(p.name, p.alg, p.material):
        raise MembershipError(f"{where}: key ID {p.key_id:08x} does not match the key")
    return p.name, p.material


def _check_url(where: str, url: str) -> None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise MembershipError(f"{where}: bad URL {url!r}: {e}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        raise MembershipError(f"{where}: URL {url!r} must be http:// or https:// with a host")
    if parts.query or parts.fragment:
        raise MembershipError(f"{where}: URL {url!r} must have no query or fragment")


def parse_network(data: bytes | str, filename: str = "network file") -> Network:
    """Parse a network file; raise MembershipError naming the file, the line and the problem."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise MembershipError(f"{filename}: not UTF-8 at byte {e.start}") from None
    members: list[Member] = []
    names: dict[str, int] = {}
    keys: dict[bytes, int] = {}
    for lineno, line in enumerate(data.split("\n"), start=1):
        where = f"{filename}:{lineno}"
        m = _FORBIDDEN.search(line)
        if m:
            raise MembershipError(f"{where}: control character 0x{ord(m[0]):02x} is not allowed")
        stripped = line.strip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        tokens = _WHITESPACE.split(stripped)
        if tokens[0] != "witness" or len(tokens) != 4:
            raise MembershipError(f"{where}: want 'witness <name> <vkey> <url>'")
        _, name, vkey, url = tokens
        if not is_valid_key_name(name):
            raise MembershipError(f"{where}: invalid witness name {name!r}")
        if name in names:
            raise MembershipError(f"{where}: duplicate name {name!r} (line {names[name]})")
        key_name, public = _parse_key(where, vkey)
        if public in keys:
            raise MembershipError(f"{where}: same key as line {keys[public]}")
        _check_url(where, url)
        if len(members) == MAX_MEMBERS:
            raise MembershipError(f"{where}: more than {MAX_MEMBERS} members")
        names[name], keys[public] = lineno, lineno
        members.append(Member(name, vkey, url, key_name, public))
    if not members:
        raise MembershipError(f"{filename}: no witness lines")
    return Network(tuple(members))


def choose_peer(members: tuple[Member, ...], self_name: str, rng: random.Random) -> Member:
    """A member other than `self_name`, uniformly at random."""
    peers = [m for m in members if m.name != self_name]
    if not peers:
        raise MembershipError(f"the network has no member other than {self_name!r}")
    return rng.choice(peers)
