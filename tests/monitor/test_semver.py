"""Semantic versions: the SemVer 2.0.0 precedence examples, and strict parsing."""

from __future__ import annotations

import itertools

import pytest

from monitor.errors import MalformedClaimError
from monitor.semver import compare, parse_version

# SemVer 2.0.0, section 11, in increasing precedence.
ORDERED = [
    "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
    "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0", "2.1.0", "2.1.1", "10.0.0",
]  # fmt: skip


def test_precedence_follows_the_spec() -> None:
    for (i, a), (j, b) in itertools.product(enumerate(ORDERED), repeat=2):
        assert compare(a, b) == (i > j) - (i < j), (a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [("v1.2.3", "1.2.3"), ("1.0.0+build.1", "1.0.0+build.2"), ("1.0.0-rc.1+x", "1.0.0-rc.1")],
)
def test_equal_precedence(a: str, b: str) -> None:
    assert compare(a, b) == 0


def test_real_tags() -> None:
    aw = parse_version("0.3.1709910063-incompatible")
    assert (aw.major, aw.minor, aw.patch, aw.prerelease) == (0, 3, 1709910063, ("incompatible",))
    assert compare("v0.0.0-20191109021931-daa7c04131f5", "v0.0.1") < 0  # a Go pseudo-version


@pytest.mark.parametrize(
    "bad",
    ["", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.03", "1.2.3-", "1.2.3-01", "1.2.3+",
     "1.2.3-a..b", "1.2.3 ", " 1.2.3", "V1.2.3", "1.2.3-é", "x" * 300, "1.2.3\n"],
)  # fmt: skip
def test_malformed(bad: str) -> None:
    with pytest.raises(MalformedClaimError):
        parse_version(bad)
