"""A certspotter-style watch list of DNS names, and the test of a certificate name against it.

Each entry is a domain name, lower-cased, without a trailing dot:

- ``example.com`` watches exactly that name;
- ``.example.com`` watches example.com and every name below it.

A certificate name matches an entry when the certificate is valid for a name
the entry watches. So a wildcard ``*.example.com`` (valid for every name one
label below example.com) matches ``www.example.com`` and ``.example.com``, and
``.www.example.com``; it does not match ``example.com`` itself. The file form
has one entry per line; blank lines and lines starting with ``#`` are skipped.
Internationalised names are compared in their ASCII (IDNA) form, as logged.
Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from monitor.errors import ConfigError

_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")


def normalise(name: str) -> str:
    """Lower-case, ASCII (IDNA) form, without one trailing dot."""
    name = name.strip().lower().removesuffix(".")
    if not name.isascii():
        name = name.encode("idna").decode("ascii")
    return name


def _check(domain: str, where: str) -> str:
    labels = domain.split(".")
    if len(domain) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ConfigError(f"{where}: {domain!r} is not a domain name")
    return domain


@dataclass(frozen=True, slots=True)
class WatchList:
    """Watched exact names and watched subtrees (a domain and everything below it)."""

    exact: frozenset[str] = frozenset()
    subtrees: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.exact or self.subtrees)

    def _in_subtree(self, name: str) -> str | None:
        """The watched subtree containing name (name itself or an ancestor)."""
        labels = name.split(".")
        for i in range(len(labels)):
            candidate = ".".join(labels[i:])
            if candidate in self.subtrees:
                return "." + candidate
        return None

    def match(self, cert_name: str) -> str | None:
        """The watch entry a certificate name matches, or None."""
        name = normalise(cert_name)
        if not name.startswith("*."):
            if name in self.exact:
                return name
            return self._in_subtree(name)
        base = name[2:]
        # The wildcard covers every <label>.base: a watched exact name one label below
        # base, a subtree at or above base, or a subtree one label below base.
        for watched in self.exact:
            head, dot, tail = watched.partition(".")
            if dot and tail == base and head:
                return watched
        found = self._in_subtree(base)
        if found is not None:
            return found
        for sub in self.subtrees:
            head, dot, tail = sub.partition(".")
            if dot and tail == base and head:
                return "." + sub
        return None

    def matches(self, cert_names: Iterable[str]) -> dict[str, str]:
        """{certificate name: watch entry} for every name that matches."""
        out = {}
        for n in cert_names:
            hit = self.match(n)
            if hit is not None:
                out[n] = hit
        return out


def parse_watch_list(entries: Iterable[str], where: str) -> WatchList:
    """A WatchList from entries (``name`` or ``.name``); ConfigError naming where and which."""
    exact: set[str] = set()
    subtrees: set[str] = set()
    for i, raw in enumerate(entries):
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        here = f"{where} entry {i + 1}"
        if entry.startswith("."):
            subtrees.add(_check(normalise(entry[1:]), here))
        else:
            exact.add(_check(normalise(entry), here))
    return WatchList(frozenset(exact), frozenset(subtrees))
