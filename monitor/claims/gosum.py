"""Go checksum database records: the go.sum lines of one module version.

A record (one log entry of sum.golang.org) is one or more lines

    <module path> <version> h1:<base64 SHA-256>
    <module path> <version>/go.mod h1:<base64 SHA-256>

each ending in a newline: the hash of the module's zip and of its go.mod.
Module paths are printable ASCII without spaces; versions are `v` semantic
versions (pseudo-versions and `+incompatible` included); the hash is `h1:`
and canonical base64 of 32 bytes. Every line of a record names the same
module version. Each line is one claim: subject `<module>@<version>` (with
`/go.mod` kept), value the `h1:` hash.
"""

from __future__ import annotations

import base64
import binascii
import re

from monitor.claims.claim import Claim
from monitor.errors import MalformedClaimError
from monitor.semver import parse_version

TYPE = "gosum"
MAX_LINES = 8
MAX_RECORD = 4096
_MODULE = re.compile(r"[\x21-\x7e]{1,500}", re.ASCII)


def sniff(entry: bytes) -> bool:
    """Whether entry looks like a go.sum record: a module path, space, `v`."""
    first = entry.split(b"\n", 1)[0]
    path, sep, rest = first.partition(b" ")
    return bool(sep) and bool(path) and rest.startswith(b"v") and not path.startswith(b"{")


def _hash(text: str, lineno: int) -> str:
    if not text.startswith("h1:"):
        raise MalformedClaimError(f"line {lineno}: hash {text[:60]!r} is not h1:<base64>")
    try:
        raw = base64.b64decode(text[3:], validate=True)
    except (binascii.Error, ValueError):
        raise MalformedClaimError(f"line {lineno}: hash is not base64") from None
    if len(raw) != 32 or base64.b64encode(raw).decode() != text[3:]:
        raise MalformedClaimError(f"line {lineno}: hash is not canonical base64 of 32 bytes")
    return text


def parse(entry: bytes) -> tuple[Claim, ...]:
    """The claims of one checksum record; MalformedClaimError if it is not one."""
    if len(entry) > MAX_RECORD:
        raise MalformedClaimError(f"record is {len(entry)} bytes, over {MAX_RECORD}")
    try:
        text = entry.decode("ascii")
    except UnicodeDecodeError as e:
        raise MalformedClaimError(f"record is not ASCII at byte {e.start}") from None
    if not text.endswith("\n"):
        raise MalformedClaimError("record must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) > MAX_LINES:
        raise MalformedClaimError(f"record has {len(lines)} lines, over {MAX_LINES}")
    claims = []
    module_version = None
    for lineno, line in enumerate(lines, start=1):
        parts = line.split(" ")
        if len(parts) != 3:
            raise MalformedClaimError(f"line {lineno}: want '<module> <version> h1:<hash>'")
        module, version, h = parts
        if not _MODULE.fullmatch(module):
            raise MalformedClaimError(f"line {lineno}: module path {module[:80]!r} is malformed")
        bare = version.removesuffix("/go.mod")
        if not bare.startswith("v"):
            raise MalformedClaimError(f"line {lineno}: version {version[:80]!r} must start with v")
        parse_version(bare)
        if module_version not in (None, (module, bare)):
            raise MalformedClaimError(f"line {lineno}: names another module version than line 1")
        module_version = (module, bare)
        claims.append(Claim(TYPE, f"{module}@{version}", bare, _hash(h, lineno)))
    subjects = [c.subject for c in claims]
    if len(set(subjects)) != len(subjects):
        raise MalformedClaimError("record lists the same module version twice")
    return tuple(claims)
