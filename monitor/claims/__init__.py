"""Claim parsers, one small module per claim type, and the registry that names them.

Each parser module has ``TYPE`` (its registry name), ``sniff(entry)`` (a cheap
test of the entry's first bytes; the types' sniffs are mutually exclusive)
and ``parse(entry) -> tuple[Claim, ...]``, which raises MalformedClaimError
and nothing else on any input. A log is configured with one or more claim
types; ``parse_entry`` picks the one whose sniff matches.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from monitor.claims import ct, firmware, gosum, keybinding, release, scitt
from monitor.claims.claim import Claim
from monitor.errors import MalformedClaimError

__all__ = ["CLAIM_TYPES", "Claim", "ClaimType", "parse_entry"]


@dataclass(frozen=True, slots=True)
class ClaimType:
    """A registered claim parser."""

    name: str
    sniff: Callable[[bytes], bool]
    parse: Callable[[bytes], tuple[Claim, ...]]


_MODULES = (firmware, release, keybinding, gosum, scitt, ct)
CLAIM_TYPES: Mapping[str, ClaimType] = MappingProxyType(
    {m.TYPE: ClaimType(m.TYPE, m.sniff, m.parse) for m in _MODULES}
)


def parse_entry(entry: bytes, types: Sequence[ClaimType]) -> tuple[Claim, ...]:
    """The claims in entry, parsed by the one of types whose sniff matches.

    With a single type the entry is parsed by it whatever its first bytes.
    Raises MalformedClaimError when the entry is not a valid claim.
    """
    if len(types) == 1:
        return types[0].parse(entry)
    matching = [t for t in types if t.sniff(entry)]
    if not matching:
        names = ", ".join(t.name for t in types)
        raise MalformedClaimError(f"entry is none of the configured claim types ({names})")
    if len(matching) > 1:
        names = " and ".join(t.name for t in matching)
        raise MalformedClaimError(f"entry is ambiguous: it looks like {names}")
    return matching[0].parse(entry)
