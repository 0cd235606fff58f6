"""Semantic versions (SemVer 2.0.0) and their precedence, for the rollback rule.

A version is MAJOR.MINOR.PATCH with an optional `-PRERELEASE` and `+BUILD`,
numeric parts without leading zeros, identifiers of [0-9A-Za-z-]. A leading
`v` (Go modules, git tags) is accepted and ignored. Precedence follows the
spec: numeric parts compare numerically, a pre-release sorts before its
release, pre-release identifiers compare numerically when numeric and
lexically otherwise (numeric lower), a longer identifier list wins a tie;
build metadata is ignored.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from monitor.errors import MalformedClaimError

_SEMVER = re.compile(
    r"v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(?:-((?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
    r"(?:\.(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?",
    re.ASCII,
)
MAX_LENGTH = 256


@dataclass(frozen=True, slots=True)
class Version:
    """A parsed version; compare with `key()` (precedence), not with ==."""

    text: str
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...]

    def key(self) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
        """A sort key implementing SemVer precedence."""
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, pre)


@functools.lru_cache(maxsize=4096)
def parse_version(text: str) -> Version:
    """Parse a SemVer 2.0.0 version (optional leading v); MalformedClaimError otherwise."""
    m = _SEMVER.fullmatch(text) if len(text) <= MAX_LENGTH else None
    if m is None:
        raise MalformedClaimError(f"version {text[:80]!r} is not a semantic version (1.2.3[-pre])")
    return Version(text, int(m[1]), int(m[2]), int(m[3]), tuple(m[4].split(".")) if m[4] else ())


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as version a has lower, equal or higher precedence than b."""
    ka, kb = parse_version(a).key(), parse_version(b).key()
    return (ka > kb) - (ka < kb)
