"""The common result of every claim parser, and helpers the signed-note parsers share.

A Claim is what an entry asserts, reduced to what the rules key on:

- `type`: the claim type name (`firmware`, `witnessnet-release`, `key-binding`,
  `gosum`, `scitt`);
- `subject`: the name rules are configured by: a release's component, a key
  binding's identity, a checksum record's `module@version`, a statement's issuer;
- `version`, `value`: a release's version and digest (hex), a binding's key, a
  record's hash;
- `fields`: every other parsed field, as text, for the finding;
- `note` or `statement`: the signed object whose signatures the rules check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from monitor.errors import MalformedClaimError
from tlog.errors import NoteError
from tlog.note import Note, parse_note

if TYPE_CHECKING:
    from monitor.cose import CoseSign1


@dataclass(frozen=True, slots=True)
class Claim:
    """One claim parsed from a log entry (an entry may hold several, e.g. a Go checksum record)."""

    type: str
    subject: str
    version: str = ""
    value: str = ""
    fields: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    note: Note | None = field(default=None, repr=False, compare=False)
    statement: CoseSign1 | None = field(default=None, repr=False, compare=False)

    def describe(self) -> dict[str, object]:
        """The claim as JSON-ready data (for findings)."""
        out: dict[str, object] = {"type": self.type, "subject": self.subject}
        if self.version:
            out["version"] = self.version
        if self.value:
            out["value"] = self.value
        if self.fields:
            out["fields"] = dict(self.fields)
        if self.note is not None:
            out["signers"] = [f"{s.name}+{s.key_id:08x}" for s in self.note.signatures]
        return out


def frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    """A read-only copy of mapping, for Claim.fields."""
    return MappingProxyType(dict(mapping))


def open_signed_note(entry: bytes, what: str) -> Note:
    """Parse entry as a C2SP signed note; MalformedClaimError saying why not."""
    try:
        return parse_note(entry)
    except NoteError as e:
        raise MalformedClaimError(f"{what} is not a signed note: {e}") from None


def key_value_lines(text: str, header: str, keys: tuple[str, ...], optional: int) -> list[str]:
    """The values of a `header` line then `key value` lines, in exactly the order of keys.

    The last `optional` keys may be absent. Each line is `key`, one space, a
    value with no spaces; nothing else is accepted.
    """
    lines = text.split("\n")
    if lines[-1] != "":
        raise MalformedClaimError("claim text must end with a newline")
    lines = lines[:-1]
    if not lines or lines[0] != header:
        raise MalformedClaimError(f"line 1: want {header!r}")
    body = lines[1:]
    if not len(keys) - optional <= len(body) <= len(keys):
        raise MalformedClaimError(
            f"{header}: has {len(body)} field lines, want {len(keys) - optional}..{len(keys)}"
        )
    values = []
    for i, (line, key) in enumerate(zip(body, keys, strict=False), start=2):
        name, sep, value = line.partition(" ")
        if name != key or not sep:
            raise MalformedClaimError(f"line {i}: want '{key} <value>', got {line[:80]!r}")
        if not value or " " in value or "\t" in value:
            raise MalformedClaimError(f"line {i}: {key} value must be one word")
        values.append(value)
    return values
