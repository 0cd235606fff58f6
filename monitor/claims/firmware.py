"""Firmware release manifests as firmware transparency logs publish them.

The entry is a C2SP signed note whose text is a JSON object (the Armored
Witness `FirmwareRelease` schema): ``component`` (a non-empty string),
``git.tag_name`` (a semantic version), ``git.commit_fingerprint`` (40 or 64
hex digits), ``output.firmware_digest_sha256`` (base64 of 32 bytes); other
members (``schema_version``, ``build``, ``hab``) are kept as they are. The
JSON must be strict: no duplicate member names, no NaN or Infinity. The
claim is (component, tag, digest as lowercase hex).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from monitor.claims.claim import Claim, frozen, open_signed_note
from monitor.errors import MalformedClaimError
from monitor.semver import parse_version

TYPE = "firmware"
_COMMIT = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}", re.ASCII)
_COMPONENT = re.compile(r"[\x21-\x7e]{1,256}", re.ASCII)


def sniff(entry: bytes) -> bool:
    """Whether entry looks like a JSON manifest note (its text starts with '{')."""
    return entry.startswith(b"{")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise MalformedClaimError(f"manifest has member {k!r} twice")
        out[k] = v
    return out


def _reject_constant(name: str) -> None:
    raise MalformedClaimError(f"manifest has the non-JSON number {name}")


def _member(obj: dict[str, Any], path: str) -> Any:
    value: Any = obj
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise MalformedClaimError(f"manifest has no {path}")
        value = value[part]
    return value


def _string(obj: dict[str, Any], path: str) -> str:
    value = _member(obj, path)
    if not isinstance(value, str):
        raise MalformedClaimError(f"manifest {path} is a {type(value).__name__}, not a string")
    return value


def _digest(b64: str) -> bytes:
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedClaimError("output.firmware_digest_sha256 is not base64") from None
    if len(raw) != 32 or base64.b64encode(raw).decode() != b64:
        raise MalformedClaimError(
            "output.firmware_digest_sha256 is not canonical base64 of 32 bytes"
        )
    return raw


def manifest_json(component: str, tag: str, commit: str, digest: bytes) -> str:
    """A minimal manifest note text for a release (schema version 0), ending in a newline."""
    manifest = {
        "schema_version": 0,
        "component": component,
        "git": {"tag_name": tag, "commit_fingerprint": commit},
        "output": {"firmware_digest_sha256": base64.b64encode(digest).decode()},
    }
    return json.dumps(manifest, indent=2) + "\n"


def parse(entry: bytes) -> tuple[Claim, ...]:
    """The firmware release in entry; MalformedClaimError if it is not one."""
    note = open_signed_note(entry, "firmware manifest")
    try:
        manifest = json.loads(
            note.text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant
        )
    except (ValueError, RecursionError) as e:
        if isinstance(e, MalformedClaimError):
            raise
        raise MalformedClaimError(f"manifest is not JSON: {str(e)[:200]}") from None
    if not isinstance(manifest, dict):
        raise MalformedClaimError(f"manifest is a JSON {type(manifest).__name__}, not an object")
    component = _string(manifest, "component")
    if not _COMPONENT.fullmatch(component):
        raise MalformedClaimError(f"component {component[:80]!r} is not 1-256 printable characters")
    tag = _string(manifest, "git.tag_name")
    parse_version(tag)
    commit = _string(manifest, "git.commit_fingerprint")
    if not _COMMIT.fullmatch(commit):
        raise MalformedClaimError(f"git.commit_fingerprint {commit[:80]!r} is not 40 or 64 hex")
    digest = _digest(_string(manifest, "output.firmware_digest_sha256"))
    fields = {"commit": commit.lower()}
    schema = manifest.get("schema_version")
    if schema is not None:
        fields["schema_version"] = str(schema)
    return (Claim(TYPE, component, tag, digest.hex(), frozen(fields), note=note),)
