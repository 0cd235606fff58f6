"""Signed notes, per C2SP signed-note.

A signed note is a text ending in a newline, a blank line, then one or more
signature lines `— <key name> base64(uint32 key ID || signature)`. The text is
split from the signatures at the last blank line. Notes are UTF-8 with no ASCII
control characters other than newline.

Verification follows the spec: signatures from unknown keys (name and key ID
not both matching a known key) are ignored; a signature from a known key that
fails rejects the whole note; a note with no verified known signature is
rejected.

Signature algorithms live in `tlog.signers` and `tlog.verifiers`; this module
only knows the Verifier/Signer protocols.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from tlog.errors import (
    InvalidSignatureError,
    MalformedNoteError,
    UnverifiedNoteError,
)

SIGNATURE_PREFIX = "— "
# The spec requires accepting at least 16 signatures; bound the work a hostile note can cause.
MAX_SIGNATURES = 128
# Post-quantum signatures are ~3.3 KB in base64; 1 MiB bounds a note comfortably.
MAX_NOTE_BYTES = 1 << 20
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f]")


class Verifier(Protocol):
    """Checks signatures by one key; identified by (name, key_id)."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def verify(self, text: bytes, signature: bytes) -> bool:
        """True when `signature` (without the key ID) is valid over the note `text`."""
        ...


class Signer(Protocol):
    """Produces signatures by one key; identified by (name, key_id)."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def sign(self, text: bytes) -> bytes:
        """The signature bytes (without the key ID) over the note `text`."""
        ...


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature line: key name, uint32 key ID, and the signature bytes after the ID."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        """The signature line, including the final newline."""
        blob = self.key_id.to_bytes(4, "big") + self.signature
        return f"{SIGNATURE_PREFIX}{self.name} {base64.b64encode(blob).decode('ascii')}\n"


@dataclass(frozen=True, slots=True)
class Note:
    """A note text (ending in newline) and its signatures in the order they appear."""

    text: str
    signatures: tuple[Signature, ...]

    def to_bytes(self) -> bytes:
        """The signed note as it goes on the wire."""
        return (self.text + "\n" + "".join(s.line() for s in self.signatures)).encode("utf-8")


def is_valid_key_name(name: str) -> bool:
    """Key names are non-empty with no Unicode spaces, no '+' and no control characters."""
    return (
        bool(name)
        and "+" not in name
        and not any(
            c.isspace() or ord(c) < 0x20 or c == "\x7f" or 0xD800 <= ord(c) <= 0xDFFF for c in name
        )
    )


def check_no_control_characters(s: str, what: str) -> None:
    """Raise MalformedNoteError if `s` has an ASCII control character other than newline."""
    m = _CONTROL.search(s)
    if m:
        raise MalformedNoteError(f"{what} has control character U+{ord(m[0]):04X} at {m.start()}")


def check_text(text: str) -> None:
    """Raise MalformedNoteError unless `text` is a valid note text."""
    if not text.endswith("\n"):
        raise MalformedNoteError("note text must end with a newline")
    check_no_control_characters(text, "note text")


def decode_strict_base64(s: str, what: str) -> bytes:
    """Decode standard base64, rejecting anything that does not re-encode identically."""
    try:
        raw = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError) as e:
        raise MalformedNoteError(f"{what}: invalid base64 ({e})") from None
    if base64.b64encode(raw).decode("ascii") != s:
        raise MalformedNoteError(f"{what}: non-canonical base64")
    return raw


def parse_signature_line(line: str, lineno: int) -> Signature:
    """Parse one signature line without its trailing newline."""
    if not line.startswith(SIGNATURE_PREFIX):
        raise MalformedNoteError(f"signature line {lineno}: must start with '— ' (U+2014, space)")
    rest = line[len(SIGNATURE_PREFIX) :]
    name, sep, b64 = rest.partition(" ")
    if not sep or " " in b64:
        raise MalformedNoteError(f"signature line {lineno}: want '— <name> <base64>'")
    if not is_valid_key_name(name):
        raise MalformedNoteError(f"signature line {lineno}: invalid key name {name!r}")
    blob = decode_strict_base64(b64, f"signature line {lineno}")
    if len(blob) < 5:
        raise MalformedNoteError(f"signature line {lineno}: signature shorter than 5 bytes")
    return Signature(name, int.from_bytes(blob[:4], "big"), blob[4:])


def parse_note(data: bytes | str) -> Note:
    """Parse a signed note; raise MalformedNoteError saying what is wrong and where."""
    if isinstance(data, bytes):
        if len(data) > MAX_NOTE_BYTES:
            raise MalformedNoteError(f"note is {len(data)} bytes, over the {MAX_NOTE_BYTES} limit")
        try:
            msg = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise MalformedNoteError(f"note is not valid UTF-8 at byte {e.start}") from None
    else:
        msg = data
        if len(msg) > MAX_NOTE_BYTES:
            raise MalformedNoteError(f"note is over the {MAX_NOTE_BYTES} byte limit")
        try:
            msg.encode("utf-8")
        except UnicodeEncodeError as e:
            raise MalformedNoteError(f"note is not valid UTF-8 at character {e.start}") from None
    check_no_control_characters(msg, "note")
    split = msg.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("note has no blank line separating text and signatures")
    text, sigs = msg[: split + 1], msg[split + 2 :]
    if not sigs:
        raise MalformedNoteError("note has no signature lines")
    if not sigs.endswith("\n"):
        raise MalformedNoteError("last signature line must end with a newline")
    lines = sigs[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(f"note has {len(lines)} signatures, over {MAX_SIGNATURES}")
    text_lines = text.count("\n")
    signatures = tuple(
        parse_signature_line(line, text_lines + 2 + i) for i, line in enumerate(lines)
    )
    return Note(text, signatures)


def verify_note(note: Note, verifiers: Iterable[Verifier]) -> list[Verifier]:
    """Verify `note` against the known keys; return the verifiers whose signatures verified.

    Raises InvalidSignatureError when a known key's signature fails, and
    UnverifiedNoteError when no known key signed the note.
    """
    known: dict[tuple[str, int], list[Verifier]] = {}
    for v in verifiers:
        known.setdefault((v.name, v.key_id), []).append(v)
    text = note.text.encode("utf-8")
    verified: list[Verifier] = []
    for sig in note.signatures:
        candidates = known.get((sig.name, sig.key_id))
        if not candidates:
            continue
        good = next((v for v in candidates if v.verify(text, sig.signature)), None)
        if good is None:
            raise InvalidSignatureError(
                f"signature by {sig.name} (key ID {sig.key_id:08x}) does not verify"
            )
        if good not in verified:
            verified.append(good)
    if not verified:
        present = ", ".join(f"{s.name}+{s.key_id:08x}" for s in note.signatures)
        wanted = ", ".join(f"{n}+{k:08x}" for n, k in known) or "none"
        raise UnverifiedNoteError(
            f"no signature from a known key: note is signed by {present}; known keys: {wanted}"
        )
    return verified


def sign_note(text: str, signers: Sequence[Signer], keep: Sequence[Signature] = ()) -> Note:
    """Sign `text` with every signer, after the signatures in `keep`."""
    check_text(text)
    raw = text.encode("utf-8")
    new = tuple(Signature(s.name, s.key_id, s.sign(raw)) for s in signers)
    for s in new:
        if not is_valid_key_name(s.name):
            raise MalformedNoteError(f"invalid key name {s.name!r}")
    return Note(text, tuple(keep) + new)
