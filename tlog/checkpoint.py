"""Checkpoints, per C2SP tlog-checkpoint.

A checkpoint is the text of a signed note: the origin line, the tree size in
decimal with no leading zeros, the base64 root hash, then zero or more
non-empty extension lines. Every line ends with a newline.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from tlog.errors import CheckpointError
from tlog.note import Note, Verifier, parse_note, verify_note

HASH_SIZE = 32
MAX_SIZE = (1 << 63) - 1
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The body of a checkpoint note: origin, size, root hash and extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        """The note text, ending in a newline."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode("ascii")]
        return "\n".join([*lines, *self.extensions]) + "\n"

    @property
    def origin_hash(self) -> str:
        """Hex SHA-256 of the origin: the path component of tlog-witness read endpoints."""
        return origin_hash(self.origin)


def origin_hash(origin: str) -> str:
    """Hex SHA-256 of an origin line (without its newline)."""
    return hashlib.sha256(origin.encode("utf-8")).hexdigest()


def parse_size(s: str, what: str = "size") -> int:
    """A decimal uint63 with no sign and no leading zeros."""
    if not _DECIMAL.fullmatch(s):
        raise CheckpointError(f"{what} {s!r} is not a decimal number without leading zeros")
    n = int(s)
    if n > MAX_SIZE:
        raise CheckpointError(f"{what} {s} exceeds 2^63-1")
    return n


def parse_hash(s: str, what: str = "root hash") -> bytes:
    """A canonical standard-base64 32-byte hash."""
    try:
        raw = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointError(f"{what} {s!r} is not valid base64") from None
    if len(raw) != HASH_SIZE:
        raise CheckpointError(f"{what} is {len(raw)} bytes, want {HASH_SIZE}")
    if base64.b64encode(raw).decode("ascii") != s:
        raise CheckpointError(f"{what} {s!r} is not canonical base64")
    return raw


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint note text; raise CheckpointError naming the bad line."""
    if not text.endswith("\n"):
        raise CheckpointError("checkpoint must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError(f"checkpoint has {len(lines)} lines, want at least 3")
    origin, size, root, *extensions = lines
    if not origin:
        raise CheckpointError("line 1: origin is empty")
    for i, ext in enumerate(extensions, start=4):
        if not ext:
            raise CheckpointError(f"line {i}: extension lines must not be empty")
    return Checkpoint(
        origin=origin,
        size=parse_size(size, "line 2: size"),
        root=parse_hash(root, "line 3: root hash"),
        extensions=tuple(extensions),
    )


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """A checkpoint note whose log signature verified: the parsed body and the whole note."""

    checkpoint: Checkpoint
    note: Note
    verified_by: tuple[Verifier, ...]


def open_checkpoint(data: bytes | str, log_verifiers: Iterable[Verifier]) -> SignedCheckpoint:
    """Parse a checkpoint note and verify it with the log's keys.

    Raises MalformedNoteError, InvalidSignatureError, UnverifiedNoteError or
    CheckpointError. Extra signatures (e.g. cosignatures) are kept in the note.
    """
    note = parse_note(data)
    verified = verify_note(note, log_verifiers)
    return SignedCheckpoint(parse_checkpoint(note.text), note, tuple(verified))
