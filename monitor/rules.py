"""The monitor's rules: pure checks of each entry's claims. No I/O.

Rules, each the name of the findings it raises:

- ``malformed-entry``: the entry is not a valid claim of the log's claim types;
- ``unknown-component``: a release for a component, a key binding from a
  provider, or a statement from an issuer that the configuration does not name;
- ``unauthorised-signer``: fewer than the configured threshold of authorised
  keys signed the claim, or an authorised key's signature fails;
- ``rollback``: a release whose version is lower than one already logged for
  its component, or an already logged version with a different digest;
- ``reproducible-build``: where attestations are configured for a component, a
  release whose digest differs from (or has no) attested digest for its version;
- ``unexpected-key``: a watched identity bound to a key it is not expected to have;
- ``module-hash-changed``: a module version (or its go.mod) logged with a
  second, different hash;
- ``watched-domain``: a CT certificate or precertificate for a name on the
  watch list (monitor.watchlist), like certspotter's notifications.

Rules that compare with earlier entries use a Memory (per log) of what they
have seen: the latest authorised release per component and the first hash
per module version. Only claims that pass the signer check update it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from monitor import semver
from monitor.claims import Claim, ClaimType, ct, parse_entry
from monitor.cose import verify_with_certificate
from monitor.errors import MalformedClaimError
from monitor.watchlist import WatchList
from tlog.alert import AlertClass
from tlog.note import Note, Verifier

MALFORMED = "malformed-entry"
UNKNOWN = "unknown-component"
SIGNER = "unauthorised-signer"
ROLLBACK = "rollback"
BUILD = "reproducible-build"
KEY = "unexpected-key"
MODULE = "module-hash-changed"
WATCHED = "watched-domain"
INTEGRITY = "integrity"

SEVERITY: Mapping[str, AlertClass] = MappingProxyType(
    {
        INTEGRITY: "page",
        SIGNER: "page",
        ROLLBACK: "page",
        BUILD: "page",
        KEY: "page",
        MODULE: "page",
        WATCHED: "warn",
        UNKNOWN: "warn",
        MALFORMED: "warn",
    }
)

RELEASE_TYPES = ("firmware", "witnessnet-release")


@dataclass(frozen=True, slots=True)
class Signers:
    """Who may sign for one component, key provider or SCITT issuer.

    Notes (releases, key bindings) are checked against ``verifiers``; SCITT
    statements against ``certificates``, SHA-256 digests of the DER signing
    certificates whose key must verify the statement. ``builds`` maps a
    version to the SHA-256 (hex) a reproducible build of it produced.
    """

    name: str
    verifiers: tuple[Verifier, ...] = ()
    certificates: frozenset[str] = frozenset()
    threshold: int = 1
    builds: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class Rules:
    """Everything the rules are configured with."""

    components: Mapping[str, Signers] = field(default_factory=lambda: MappingProxyType({}))
    providers: Mapping[str, Signers] = field(default_factory=lambda: MappingProxyType({}))
    issuers: Mapping[str, Signers] = field(default_factory=lambda: MappingProxyType({}))
    identities: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))
    domains: WatchList = field(default_factory=WatchList)


@dataclass(frozen=True, slots=True)
class Violation:
    """A rule that fired for one claim (None for a malformed entry).

    ``related`` is the index of an earlier entry the violation refers to.
    """

    rule: str
    reason: str
    claim: Claim | None = None
    related: int | None = None


@dataclass(frozen=True, slots=True)
class Remembered:
    """What a rule recorded about an entry: a value, a detail and the entry's index."""

    value: str
    detail: str
    index: int


class Memory(Protocol):
    """A log's rule memory: (kind, key) -> Remembered."""

    def recall(self, kind: str, key: str) -> Remembered | None: ...

    def remember(self, kind: str, key: str, item: Remembered) -> None: ...


def signer_problem(claim: Claim, signers: Signers) -> str | None:
    """None if enough authorised keys signed claim; otherwise why not."""
    if claim.statement is not None:
        cert = claim.fields.get("certificate_sha256")
        if cert is None or cert not in signers.certificates:
            who = cert or "(no certificate)"
            return f"statement is signed with {who}, not a certificate of {signers.name}"
        der = claim.statement.certificate()
        if der is None or not verify_with_certificate(claim.statement, der):
            return f"statement's signature does not verify with certificate {cert}"
        return None
    return _note_problem(claim.note, signers) if claim.note is not None else "claim is unsigned"


def _note_problem(note: Note, signers: Signers) -> str | None:
    by_id = {(v.name, v.key_id): v for v in signers.verifiers}
    text = note.text.encode("utf-8")
    good: set[tuple[str, int]] = set()
    for sig in note.signatures:
        v = by_id.get((sig.name, sig.key_id))
        if v is None:
            continue
        if not v.verify(text, sig.signature):
            return f"signature by authorised key {sig.name}+{sig.key_id:08x} does not verify"
        good.add((sig.name, sig.key_id))
    if len(good) >= signers.threshold:
        return None
    present = ", ".join(f"{s.name}+{s.key_id:08x}" for s in note.signatures)
    return (
        f"signed by {len(good)} of the {signers.threshold} authorised keys of {signers.name} "
        f"required (signatures present: {present})"
    )


def _authorised(claim: Claim, table: Mapping[str, Signers], what: str) -> list[Violation] | None:
    """Violations if claim's signer set is unknown or not satisfied; None if authorised."""
    name = claim.fields.get("provider", claim.subject) if what == "provider" else claim.subject
    signers = table.get(name)
    if signers is None:
        return [Violation(UNKNOWN, f"{what} {name!r} is not configured", claim)]
    problem = signer_problem(claim, signers)
    if problem is not None:
        return [Violation(SIGNER, f"{what} {name}: {problem}", claim)]
    return None


def _release(claim: Claim, index: int, rules: Rules, memory: Memory) -> list[Violation]:
    refused = _authorised(claim, rules.components, "component")
    if refused is not None:
        return refused
    out = []
    builds = rules.components[claim.subject].builds
    if builds:
        attested = builds.get(claim.version)
        if attested is None:
            reason = f"no reproducible-build attestation for {claim.subject} {claim.version}"
            out.append(Violation(BUILD, reason, claim))
        elif attested != claim.value:
            reason = (
                f"{claim.subject} {claim.version} has digest {claim.value}, "
                f"but its reproducible build gave {attested}"
            )
            out.append(Violation(BUILD, reason, claim))
    latest = memory.recall("release", claim.subject)
    order = 1 if latest is None else semver.compare(claim.version, latest.value)
    if latest is not None and order < 0:
        reason = (
            f"{claim.subject} {claim.version} is lower than {latest.value}, "
            f"logged at index {latest.index}"
        )
        out.append(Violation(ROLLBACK, reason, claim, latest.index))
    elif latest is not None and order == 0 and claim.value != latest.detail:
        reason = (
            f"{claim.subject} {claim.version} was logged at index {latest.index} with digest "
            f"{latest.detail}; now with {claim.value}"
        )
        out.append(Violation(ROLLBACK, reason, claim, latest.index))
    elif order > 0:
        memory.remember("release", claim.subject, Remembered(claim.version, claim.value, index))
    return out


def _binding(claim: Claim, rules: Rules) -> list[Violation]:
    refused = _authorised(claim, rules.providers, "provider")
    if refused is not None:
        return refused
    expected = rules.identities.get(claim.subject)
    if expected is not None and claim.value not in expected:
        reason = f"watched identity {claim.subject} bound to unexpected key {claim.value}"
        return [Violation(KEY, reason, claim)]
    return []


def _module(claim: Claim, index: int, memory: Memory) -> list[Violation]:
    first = memory.recall("module", claim.subject)
    if first is None:
        memory.remember("module", claim.subject, Remembered(claim.value, "", index))
        return []
    if first.value == claim.value:
        return []
    reason = f"{claim.subject} has hash {claim.value}; index {first.index} logged {first.value}"
    return [Violation(MODULE, reason, claim, first.index)]


def _watched(claim: Claim, domains: WatchList) -> list[Violation]:
    hits = domains.matches(ct.names(claim))
    if not hits:
        return []
    what = claim.fields["entry_type"]
    listed = ", ".join(f"{name} (watching {entry})" for name, entry in hits.items())
    return [Violation(WATCHED, f"{what} for watched names: {listed}", claim)]


def check_claim(claim: Claim, index: int, rules: Rules, memory: Memory) -> list[Violation]:
    """The violations of one claim of the entry at index."""
    if claim.type in RELEASE_TYPES:
        return _release(claim, index, rules, memory)
    if claim.type == "key-binding":
        return _binding(claim, rules)
    if claim.type == "gosum":
        return _module(claim, index, memory)
    if claim.type == "scitt":
        return _authorised(claim, rules.issuers, "issuer") or []
    if claim.type == "ct":
        return _watched(claim, rules.domains)
    raise ValueError(f"no rules for claim type {claim.type!r}")


def check_entry(
    entry: bytes, index: int, types: Sequence[ClaimType], rules: Rules, memory: Memory
) -> list[Violation]:
    """The violations of the entry at index: a malformed entry, or those of its claims."""
    try:
        claims = parse_entry(entry, types)
    except MalformedClaimError as e:
        return [Violation(MALFORMED, str(e))]
    return [v for claim in claims for v in check_claim(claim, index, rules, memory)]
