"""Trust policies, per C2SP tlog-policy: which logs and witnesses count, and the quorum.

A policy file is lines of items separated by ASCII spaces and tabs:

    log <vkey> [<url>]
    witness <name> <vkey> [<url>]
    group <name> <k|all|any> <member>...
    quorum <name|none>

plus blank lines and `#` comment lines. Witnesses and groups share one
namespace; a group or the quorum may only name witnesses and groups defined on
earlier lines, each member at most once, with 1 <= k <= n. Exactly one quorum
line; `quorum none` requires no cosignatures. Two logs (or two witnesses) with
the same public key are rejected. Only tab, newline and octets 0x20-0x7E and
0x80-0xFF are allowed; non-ASCII octets are opaque (bytes input is decoded
with surrogateescape, so names compare octet by octet).

Keys are vkeys: a log key is type 0x01, 0x02 or 0x05; a witness key is type
0x04 or 0x06, or 0x01, which names the same Ed25519 key used as a 0x04
cosigner (its key ID is recomputed). The Sigsum builtin-policy variant, where
a key is 64 hex digits of a raw Ed25519 public key, is also accepted:
`log <hex>` is a type 0x01 key whose name is the origin
`sigsum.org/v1/tree/<hex SHA-256(key)>`, and `witness <name> <hex>` is a 0x04
cosigner whose key name is <name>.

A log's origin is its key name, as the spec requires. Logs whose key name
differs from their origin (the Go checksum database, Pixel BT) can be put in a
Policy built in code with an explicit `Log.origin`.

Evaluation. A checkpoint is valid when a listed log with its origin signed it
(a failing signature from that log rejects it, as for any signed note) and the
witnesses whose cosignatures verify satisfy the quorum. A cosignature line
from a known witness that fails to verify is NOT counted and does NOT reject
the checkpoint: cosignature lines travel unauthenticated, so rejecting would
let anyone who relays a checkpoint veto it by appending a garbage line under a
witness's name and key ID, while ignoring the line never counts a witness that
did not cosign. Names returned by evaluation are the policy's witness names.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from tlog.checkpoint import Checkpoint, parse_checkpoint
from tlog.cosignature import CosignatureV1Verifier, parse_cosigner_vkey
from tlog.errors import (
    KeyMaterialError,
    MalformedPolicyError,
    QuorumNotMetError,
    UnverifiedNoteError,
)
from tlog.keys import (
    ALG_ECDSA,
    ALG_ED25519,
    ALG_RFC6962_STH,
    Ed25519Verifier,
    parse_vkey,
    split_key,
)
from tlog.note import Note, Verifier, is_valid_key_name, parse_note, verify_note

NONE = "none"
SIGSUM_ORIGIN_PREFIX = "sigsum.org/v1/tree/"
LOG_KEY_TYPES = (ALG_ED25519, ALG_ECDSA, ALG_RFC6962_STH)

_WHITESPACE = re.compile("[ \t]+")
_FORBIDDEN = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
_HEX_KEY = re.compile("[0-9a-fA-F]{64}")
_DECIMAL = re.compile("[0-9]+")


@dataclass(frozen=True, slots=True)
class Log:
    """A trusted log: the origin of its checkpoints and the key that signs them."""

    origin: str
    verifier: Verifier
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Witness:
    """A witness: its policy name and its cosignature verifier."""

    name: str
    verifier: Verifier
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Group:
    """Satisfied when at least `threshold` of `members` (witnesses or groups) are."""

    name: str
    threshold: int
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Policy:
    """A parsed policy. Groups are in definition order: members precede the group.

    `quorum` is the name of a witness or group, or None for `quorum none`.
    """

    logs: tuple[Log, ...]
    witnesses: tuple[Witness, ...]
    groups: tuple[Group, ...]
    quorum: str | None

    def log_verifiers(self, origin: str) -> list[Verifier]:
        """The verifiers of the listed logs whose origin is `origin` (maybe none)."""
        return [log.verifier for log in self.logs if log.origin == origin]

    def cosigners(self, note: Note) -> set[str]:
        """Names of the witnesses with a cosignature on `note` that verifies.

        `note.text` is the checkpoint body. Lines from unknown keys and failing
        lines from known witnesses are ignored (see the module docstring).
        """
        known: dict[tuple[str, int], list[Witness]] = {}
        for w in self.witnesses:
            known.setdefault((w.verifier.name, w.verifier.key_id), []).append(w)
        text = note.text.encode("utf-8")
        signed: set[str] = set()
        for sig in note.signatures:
            for w in known.get((sig.name, sig.key_id), ()):
                if w.name not in signed and w.verifier.verify(text, sig.signature):
                    signed.add(w.name)
        return signed

    def check_quorum(self, note: Note) -> set[str]:
        """Names of the witnesses whose cosignatures verified, if they meet the quorum.

        Raises QuorumNotMetError naming each group that fell short and by how much.
        """
        signed = self.cosigners(note)
        satisfied = set(signed)
        counts: dict[str, int] = {}
        for g in self.groups:
            counts[g.name] = sum(m in satisfied for m in g.members)
            if counts[g.name] >= g.threshold:
                satisfied.add(g.name)
        if self.quorum is None or self.quorum in satisfied:
            return signed
        needed = _reachable(self.quorum, self.groups)
        short = [
            f"group {g.name} has {counts[g.name]} of the {g.threshold} required "
            f"(of {len(g.members)} members)"
            for g in self.groups
            if g.name in needed and g.name not in satisfied
        ]
        if not short:
            short = [f"witness {self.quorum} has not cosigned"]
        have = ", ".join(sorted(signed)) or "none"
        raise QuorumNotMetError(
            f"quorum {self.quorum} not met: {'; '.join(short)}; valid cosignatures from: {have}"
        )

    def quorum_satisfied(self, note: Note) -> bool:
        """True when the cosignatures on `note` meet the quorum."""
        try:
            self.check_quorum(note)
        except QuorumNotMetError:
            return False
        return True


def _reachable(root: str, groups: tuple[Group, ...]) -> set[str]:
    """`root` and every name reachable from it through group membership."""
    members = {g.name: g.members for g in groups}
    seen, stack = set(), [root]
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(members.get(name, ()))
    return seen


def verify_cosigned_checkpoint(data: bytes | str, policy: Policy) -> tuple[Checkpoint, set[str]]:
    """Verify a checkpoint note's log signature and its witness quorum under `policy`.

    Returns the checkpoint and the names of the witnesses whose cosignatures
    verified. Raises MalformedNoteError, CheckpointError, UnverifiedNoteError
    (no listed log has this origin, or none of its keys signed),
    InvalidSignatureError (the log's signature fails) or QuorumNotMetError.
    """
    note = parse_note(data)
    checkpoint = parse_checkpoint(note.text)
    verifiers = policy.log_verifiers(checkpoint.origin)
    if not verifiers:
        raise UnverifiedNoteError(f"the policy lists no log with origin {checkpoint.origin!r}")
    verify_note(note, verifiers)
    return checkpoint, policy.check_quorum(note)


def sigsum_origin(public: bytes) -> str:
    """The origin of a Sigsum log: `sigsum.org/v1/tree/` + hex SHA-256 of its Ed25519 key."""
    return SIGSUM_ORIGIN_PREFIX + hashlib.sha256(public).hexdigest()


class _Parser:
    """One pass over the lines; each method handles one keyword."""

    def __init__(self, lines: list[tuple[int, list[str]]]) -> None:
        self.lines = lines
        self.logs: list[Log] = []
        self.witnesses: list[Witness] = []
        self.groups: list[Group] = []
        self.quorum: tuple[int, str | None] | None = None
        self.defined: dict[str, int] = {}
        self.log_keys: dict[bytes, int] = {}
        self.witness_keys: dict[bytes, int] = {}
        # Every name any line defines, to say "defined later" instead of "undefined".
        self.all_names = {
            t[1]: n for n, t in reversed(lines) if t[0] in ("witness", "group") and len(t) > 1
        }

    def run(self) -> Policy:
        for lineno, tokens in self.lines:
            handler = {
                "log": self.log,
                "witness": self.witness,
                "group": self.group,
                "quorum": self.quorum_line,
            }.get(tokens[0])
            if handler is None:
                raise MalformedPolicyError(f"line {lineno}: unknown keyword {tokens[0]!r}")
            handler(lineno, tokens[1:])
        if self.quorum is None:
            raise MalformedPolicyError("policy has no quorum line (use 'quorum none' for none)")
        return Policy(tuple(self.logs), tuple(self.witnesses), tuple(self.groups), self.quorum[1])

    def log(self, lineno: int, args: list[str]) -> None:
        if not 1 <= len(args) <= 2:
            raise MalformedPolicyError(f"line {lineno}: want 'log <vkey> [<url>]'")
        if _HEX_KEY.fullmatch(args[0]):
            public = bytes.fromhex(args[0])
            verifier: Verifier = Ed25519Verifier(sigsum_origin(public), public)
        else:
            try:
                parsed = split_key(args[0], "log vkey")
                if parsed.alg not in LOG_KEY_TYPES:
                    raise MalformedPolicyError(
                        f"line {lineno}: log key type 0x{parsed.alg:02x} is not a log signature "
                        "type (0x01, 0x02 or 0x05)"
                    )
                verifier = parse_vkey(args[0])
            except KeyMaterialError as e:
                raise MalformedPolicyError(f"line {lineno}: bad log key: {e}") from None
            public = parsed.material
        _check_duplicate_key(lineno, "log", public, self.log_keys)
        self.logs.append(Log(verifier.name, verifier, args[1] if len(args) == 2 else None))

    def witness(self, lineno: int, args: list[str]) -> None:
        if not 2 <= len(args) <= 3:
            raise MalformedPolicyError(f"line {lineno}: want 'witness <name> <vkey> [<url>]'")
        name, key = args[0], args[1]
        self.define(lineno, name)
        if _HEX_KEY.fullmatch(key):
            if not is_valid_key_name(name):
                raise MalformedPolicyError(
                    f"line {lineno}: witness name {name!r} is not a valid key name, "
                    "so it cannot name a raw hex key"
                )
            public = bytes.fromhex(key)
            verifier: Verifier = CosignatureV1Verifier(name, public)
        else:
            try:
                public = split_key(key, "witness vkey").material
                verifier = parse_cosigner_vkey(key)
            except KeyMaterialError as e:
                raise MalformedPolicyError(f"line {lineno}: bad witness key: {e}") from None
        _check_duplicate_key(lineno, "witness", public, self.witness_keys)
        self.witnesses.append(Witness(name, verifier, args[2] if len(args) == 3 else None))

    def group(self, lineno: int, args: list[str]) -> None:
        if len(args) < 3:
            raise MalformedPolicyError(
                f"line {lineno}: want 'group <name> <k|all|any> <member>...' (at least one member)"
            )
        name, k, members = args[0], args[1], args[2:]
        seen: set[str] = set()
        for m in members:
            self.reference(lineno, m, f"group {name} member")
            if m in seen:
                raise MalformedPolicyError(f"line {lineno}: group {name} lists {m!r} twice")
            seen.add(m)
        self.define(lineno, name)
        n = len(members)
        if k == "all":
            threshold = n
        elif k == "any":
            threshold = 1
        elif _DECIMAL.fullmatch(k):
            if len(k) > 1 and k[0] == "0":
                raise MalformedPolicyError(f"line {lineno}: threshold {k!r} has leading zeros")
            if len(k) > len(str(n)) or not 1 <= int(k) <= n:
                raise MalformedPolicyError(
                    f"line {lineno}: threshold {k} out of range: group {name} has {n} members, "
                    f"so k must be 1..{n}"
                )
            threshold = int(k)
        else:
            raise MalformedPolicyError(
                f"line {lineno}: threshold {k!r} must be 'all', 'any' or a decimal number"
            )
        self.groups.append(Group(name, threshold, tuple(members)))

    def quorum_line(self, lineno: int, args: list[str]) -> None:
        if len(args) != 1:
            raise MalformedPolicyError(f"line {lineno}: want 'quorum <name>' or 'quorum none'")
        if self.quorum is not None:
            raise MalformedPolicyError(
                f"line {lineno}: second quorum line (the first is on line {self.quorum[0]})"
            )
        name = args[0]
        if name != NONE:
            self.reference(lineno, name, "quorum")
        self.quorum = (lineno, None if name == NONE else name)

    def define(self, lineno: int, name: str) -> None:
        if name == NONE:
            raise MalformedPolicyError(f"line {lineno}: 'none' is reserved and cannot be defined")
        if name in self.defined:
            raise MalformedPolicyError(
                f"line {lineno}: duplicate name {name!r} (already defined on line "
                f"{self.defined[name]})"
            )
        self.defined[name] = lineno

    def reference(self, lineno: int, name: str, what: str) -> None:
        if name in self.defined:
            return
        if name == NONE:
            raise MalformedPolicyError(f"line {lineno}: {what} cannot be 'none'")
        later = self.all_names.get(name)
        if later == lineno:
            raise MalformedPolicyError(f"line {lineno}: {what} {name!r} is the group itself")
        if later is not None and later > lineno:
            raise MalformedPolicyError(
                f"line {lineno}: {what} {name!r} is defined later, on line {later}; "
                "define it before it is used"
            )
        raise MalformedPolicyError(f"line {lineno}: {what} {name!r} is not defined")


def _check_duplicate_key(lineno: int, what: str, public: bytes, seen: dict[bytes, int]) -> None:
    if public in seen:
        raise MalformedPolicyError(
            f"line {lineno}: duplicate {what} key (same public key as line {seen[public]})"
        )
    seen[public] = lineno


def _tokenize(text: str) -> Iterable[tuple[int, list[str]]]:
    for lineno, line in enumerate(text.split("\n"), start=1):
        m = _FORBIDDEN.search(line)
        if m:
            raise MalformedPolicyError(
                f"line {lineno}: control character 0x{ord(m[0]):02x} is not allowed"
            )
        stripped = line.strip(" \t")
        if stripped and not stripped.startswith("#"):
            yield lineno, _WHITESPACE.split(stripped)


def parse_policy(data: bytes | str) -> Policy:
    """Parse a tlog-policy file; raise MalformedPolicyError naming the line and the problem."""
    text = data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else data
    return _Parser(list(_tokenize(text))).run()
