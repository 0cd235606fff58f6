"""The logs this witness trusts: origin -> keys, request budget, and where the trust came from.

Logs in the config file are authoritative: the operator may re-key them there.
Logs from witness-network lists are add-only: a list can add an origin the
witness does not know, but never removes one, and never changes the keys of one
it knows (that is logged as a warning and ignored). List-derived logs are
stored in the database, so a list that drops a log does not drop it on restart.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tlog.checkpoint import origin_hash
from tlog.errors import MalformedKeyError, TlogError
from tlog.keys import ALG_COSIGNATURE_V1, ALG_MLDSA44_COSIGNATURE, parse_vkey, split_key
from tlog.note import Verifier
from witness.store import LogKeys

if TYPE_CHECKING:
    from witness.loglist import LogListEntry

CONFIG_SOURCE = "config"

log = logging.getLogger("witness.registry")


def log_verifier(vkey: str) -> Verifier:
    """A log's vkey as a note verifier; witness cosigner key types are refused."""
    key = split_key(vkey.strip(), "vkey")
    if key.alg in (ALG_COSIGNATURE_V1, ALG_MLDSA44_COSIGNATURE):
        raise MalformedKeyError(
            f"vkey for {key.name} is a witness cosigner key (type 0x{key.alg:02x}), not a log key"
        )
    return parse_vkey(vkey)


@dataclass(frozen=True)
class TrustedLog:
    """A log the witness cosigns for. Raises a TlogError for an unusable vkey."""

    origin: str
    vkeys: tuple[str, ...]
    source: str
    qpd: int | None = None
    url: str | None = None
    kind: str = "tiles"
    verifiers: tuple[Verifier, ...] = field(init=False, repr=False, compare=False)
    origin_hash: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "verifiers", tuple(log_verifier(v) for v in self.vkeys))
        object.__setattr__(self, "origin_hash", origin_hash(self.origin))

    def keys(self) -> LogKeys:
        """The database record of this trust."""
        return LogKeys(self.origin, self.vkeys, self.source, self.qpd)


class Registry:
    """Trusted logs by origin and by origin hash (the monitoring path component)."""

    def __init__(self) -> None:
        self._logs: dict[str, TrustedLog] = {}
        self._by_hash: dict[str, TrustedLog] = {}

    def __len__(self) -> int:
        return len(self._logs)

    def __iter__(self) -> Iterator[TrustedLog]:
        return iter(self._logs.values())

    def get(self, origin: str) -> TrustedLog | None:
        return self._logs.get(origin)

    def by_hash(self, hex_hash: str) -> TrustedLog | None:
        return self._by_hash.get(hex_hash)

    def verifiers(self, origin: str) -> Sequence[Verifier] | None:
        """The log's verifiers, or None for an unknown origin (for decide.verify_request)."""
        trusted = self._logs.get(origin)
        return None if trusted is None else trusted.verifiers

    def put(self, trusted: TrustedLog) -> None:
        """Trust a log, replacing any earlier keys (config logs only)."""
        self._logs[trusted.origin] = trusted
        self._by_hash[trusted.origin_hash] = trusted

    def admits(self, trusted: TrustedLog) -> bool:
        """Whether a log list may add this log: only if its origin is unknown.

        A list that names other keys for a known origin is logged as a warning.
        """
        known = self._logs.get(trusted.origin)
        if known is not None and set(known.vkeys) != set(trusted.vkeys):
            log.warning(
                "log list re-keys a known log; keeping the old keys",
                extra={
                    "origin": trusted.origin,
                    "list": trusted.source,
                    "kept_vkeys": list(known.vkeys),
                    "ignored_vkeys": list(trusted.vkeys),
                },
            )
        return known is None


def from_log_list(entries: Iterable[LogListEntry], source: str) -> list[TrustedLog]:
    """The logs of a parsed logs/v0 list, as candidates for `Registry.admits`."""
    return [TrustedLog(e.origin, (e.vkey,), source, e.qpd) for e in entries]


def restore_list_logs(registry: Registry, stored: Iterable[LogKeys]) -> None:
    """Trust again the list-derived logs of an earlier run (config logs are already in)."""
    for keys in stored:
        if keys.source == CONFIG_SOURCE:
            continue
        try:
            trusted = TrustedLog(keys.origin, keys.vkeys, keys.source, keys.qpd)
            if registry.admits(trusted):
                registry.put(trusted)
        except TlogError as e:
            log.warning("stored log keys unusable", extra={"origin": keys.origin, "error": str(e)})
