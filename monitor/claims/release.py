"""witnessnet release claims: a signed note whose text names one release of a component.

    witnessnet.dev/release/v1
    component <name>
    version <semantic version>
    commit <40 or 64 lowercase hex: the source revision>
    sha256 <64 lowercase hex: the SHA-256 of the released artifact>
    url <where the artifact is published>          (optional)

then a blank line and one or more signature lines by the publisher's keys
(C2SP signed-note). Lines appear in exactly this order, each `key value` with
one space and a one-word value. The claim is (component, version, sha256).
"""

from __future__ import annotations

import re

from monitor.claims.claim import Claim, frozen, key_value_lines, open_signed_note
from monitor.errors import MalformedClaimError
from monitor.semver import parse_version

TYPE = "witnessnet-release"
HEADER = "witnessnet.dev/release/v1"
MAGIC = HEADER.encode() + b"\n"
KEYS = ("component", "version", "commit", "sha256", "url")

_NAME = re.compile(r"[\x21-\x7e]{1,256}", re.ASCII)
_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}", re.ASCII)
_SHA256 = re.compile(r"[0-9a-f]{64}", re.ASCII)
_URL = re.compile(r"https?://[\x21-\x7e]{1,2000}", re.ASCII)


def sniff(entry: bytes) -> bool:
    """Whether entry claims to be a witnessnet release (its first line)."""
    return entry.startswith(MAGIC)


def check_fields(component: str, version: str, commit: str, sha256: str, url: str | None) -> None:
    """Raise MalformedClaimError unless every field is well-formed."""
    if not _NAME.fullmatch(component):
        raise MalformedClaimError(f"component {component[:80]!r} is not 1-256 printable characters")
    parse_version(version)
    if not _COMMIT.fullmatch(commit):
        raise MalformedClaimError(f"commit {commit[:80]!r} is not 40 or 64 lowercase hex digits")
    if not _SHA256.fullmatch(sha256):
        raise MalformedClaimError(f"sha256 {sha256[:80]!r} is not 64 lowercase hex digits")
    if url is not None and not _URL.fullmatch(url):
        raise MalformedClaimError(f"url {url[:80]!r} is not an http(s) URL")


def release_text(
    component: str, version: str, commit: str, sha256: str, url: str | None = None
) -> str:
    """The note text of a release claim (to sign); raises MalformedClaimError on bad fields."""
    check_fields(component, version, commit, sha256, url)
    values = [component, version, commit, sha256] + ([url] if url is not None else [])
    return HEADER + "\n" + "".join(f"{k} {v}\n" for k, v in zip(KEYS, values, strict=False))


def parse(entry: bytes) -> tuple[Claim, ...]:
    """The release claim in entry; MalformedClaimError if it is not one."""
    note = open_signed_note(entry, "release claim")
    values = key_value_lines(note.text, HEADER, KEYS, optional=1)
    component, version, commit, sha256 = values[:4]
    url = values[4] if len(values) == 5 else None
    check_fields(component, version, commit, sha256, url)
    fields = {"commit": commit} | ({"url": url} if url else {})
    return (Claim(TYPE, component, version, sha256, frozen(fields), note=note),)
