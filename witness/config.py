"""The witness configuration file (TOML), parsed once into frozen dataclasses.

    name = "example.com/witness"     # the witness's key name, as in key_file
    key_file = "witness.key"          # relative paths are relative to this file; or
                                      # "ssh-agent:SHA256:<fingerprint>" (docs/witness.md)
    database = "witness.db"
    listen = "127.0.0.1:7380"         # port 0: any free port
    log_lists = ["https://example.org/log-list.1", "lists/extra.txt"]   # optional
    poll_interval = 30                # optional: seconds between feeder polls of a tiles_url
    log_list_interval = 3600          # optional: seconds between fetches of a list URL

    [[logs]]
    origin = "example.com/log"
    vkeys = ["example.com/log+01234567+AbC..."]   # one or more
    url = "https://example.com/log/"               # optional: pull checkpoints from here
    kind = "tiles"                                 # optional: how to read url (below)
    qpd = 86400                                    # optional: add-checkpoint requests per day

    [gossip]                          # optional: gossip with other witnesses (docs/gossip.md)
    network_file = "network.txt"      # the witnesses to gossip with
    enabled = true                    # optional (default true)
    interval_seconds = 10             # optional: mean time between exchanges, jittered ±50%
    timeout_seconds = 10              # optional: limit of every gossip network call
    proof_attempts = 3                # optional: tries for a consistency proof before a suspicion

    [alerts]                          # optional: where alerts go (docs/alerts.md)

    [rotation]                        # optional: also cosign with the previous key until `until`
    previous_key_file = "old.key"     # a path or "ssh-agent:..." like key_file
    until = 2026-12-01T00:00:00Z      # TOML date-time with an offset

    [limits]                          # optional: abuse limits (witness.limits, docs/witness.md)

A log with a `url` is followed by a feeder. `kind` says what the URL serves
(tlog.ledger.LEDGER_KINDS): "tiles" (C2SP tlog-tiles, the default), "ct" (the
RFC 6962 API), "static-ct" (c2sp.org/static-ct-api), "ccf" (CCF ledger chunks),
"scitt" (a SCITT transparency service). `tiles_url = U` is short for
`url = U` with kind "tiles".

The `[alerts]` table is kept as read; the product shell validates it
(witnessnet.alerts.parse_alerts_config), since roles do not import it.

Every error names the file, the key (`logs[2].vkeys[0]`) and, where it can be
found, the line. Unknown keys are errors, not ignored.
"""

from __future__ import annotations

import datetime
import ipaddress
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from tlog.errors import TlogError
from tlog.ledger import LEDGER_KINDS
from tlog.note import is_valid_key_name
from tlog.sshagent import parse_key_spec
from tlog.tomlcheck import TomlChecker
from witness import feeder, listpoller
from witness.errors import ConfigError
from witness.limits import BOUNDS as LIMIT_BOUNDS
from witness.limits import LimitsConfig
from witness.loglist import MAX_QPD
from witness.registry import log_verifier

_TOP = {
    "name",
    "key_file",
    "database",
    "listen",
    "log_lists",
    "logs",
    "poll_interval",
    "log_list_interval",
    "gossip",
    "alerts",
    "rotation",
    "limits",
}
_ROTATION = {"previous_key_file", "until"}
_TABLES = ("gossip", "rotation", "limits")  # written as [table]: errors give their lines
AGENT_PREFIX = "ssh-agent:"
MIN_INTERVAL = 0.1
MAX_INTERVAL = 86400.0
_LOG = {"origin", "vkeys", "url", "kind", "tiles_url", "qpd"}
_GOSSIP = {"network_file", "enabled", "interval_seconds", "timeout_seconds", "proof_attempts"}
DEFAULT_GOSSIP_INTERVAL = 10.0
DEFAULT_GOSSIP_TIMEOUT = 10.0
DEFAULT_PROOF_ATTEMPTS = 3
MAX_GOSSIP_TIMEOUT = 300.0
MAX_PROOF_ATTEMPTS = 1000


@dataclass(frozen=True, slots=True)
class LogConfig:
    """One log the operator configured."""

    origin: str
    vkeys: tuple[str, ...]
    url: str | None = None
    qpd: int | None = None
    kind: str = "tiles"


@dataclass(frozen=True, slots=True)
class WitnessConfig:
    """A validated witness configuration; paths are absolute."""

    path: Path
    name: str
    key_file: Path | None  # None: the key is in the ssh-agent, `key_agent`
    database: Path
    host: str
    port: int
    logs: tuple[LogConfig, ...] = ()
    log_lists: tuple[str, ...] = ()
    poll_interval: float = feeder.DEFAULT_INTERVAL
    log_list_interval: float = listpoller.DEFAULT_INTERVAL
    gossip: GossipConfig | None = None
    alerts: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    key_agent: str | None = None  # the agent key's SHA256 fingerprint
    rotation: RotationConfig | None = None
    limits: LimitsConfig = field(default_factory=LimitsConfig)


@dataclass(frozen=True, slots=True)
class RotationConfig:
    """The `[rotation]` table: the previous key (a file or an agent key) and the window's end."""

    previous_key_file: Path | None
    previous_key_agent: str | None
    until: float  # POSIX seconds


@dataclass(frozen=True, slots=True)
class GossipConfig:
    """The `[gossip]` table: the network file and the exchange schedule (seconds)."""

    network_file: Path
    enabled: bool = True
    interval: float = DEFAULT_GOSSIP_INTERVAL
    timeout: float = DEFAULT_GOSSIP_TIMEOUT
    proof_attempts: int = DEFAULT_PROOF_ATTEMPTS


def _listen(c: TomlChecker, value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdecimal() or not 0 <= int(port) <= 65535:
        raise c.fail("listen", f"{value!r} is not HOST:PORT (IPv6: [::1]:PORT; port 0: any)")
    return host, int(port)


def _url(c: TomlChecker, value: str, key: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise c.fail(key, f"{value!r} is not an http(s) URL")
    return value


def _interval(c: TomlChecker, data: dict[str, Any], key: str, default: float) -> float:
    value = data.get(key, default)
    if type(value) not in (int, float) or not MIN_INTERVAL <= value <= MAX_INTERVAL:
        raise c.fail(key, f"must be a number of seconds in {MIN_INTERVAL:g}..{MAX_INTERVAL:g}")
    return float(value)


def _number(
    c: TomlChecker, table: dict[str, Any], field: str, default: float, low: float, high: float
) -> float:
    value = table.get(field, default)
    if type(value) not in (int, float) or not low <= value <= high:
        raise c.fail(f"gossip.{field}", f"must be a number of seconds in {low:g}..{high:g}")
    return float(value)


def _gossip(c: TomlChecker, value: Any) -> GossipConfig:
    table = c.table(value, "gossip", _GOSSIP)
    network = c.string(table, "network_file", "gossip.network_file")
    enabled = table.get("enabled", True)
    if type(enabled) is not bool:
        raise c.fail("gossip.enabled", "must be true or false")
    attempts = table.get("proof_attempts", DEFAULT_PROOF_ATTEMPTS)
    if type(attempts) is not int or not 1 <= attempts <= MAX_PROOF_ATTEMPTS:
        raise c.fail("gossip.proof_attempts", f"must be an integer in 1..{MAX_PROOF_ATTEMPTS}")
    return GossipConfig(
        network_file=c.file(network),
        enabled=enabled,
        interval=_number(
            c, table, "interval_seconds", DEFAULT_GOSSIP_INTERVAL, MIN_INTERVAL, MAX_INTERVAL
        ),
        timeout=_number(
            c, table, "timeout_seconds", DEFAULT_GOSSIP_TIMEOUT, MIN_INTERVAL, MAX_GOSSIP_TIMEOUT
        ),
        proof_attempts=attempts,
    )


def _key_source(
    c: TomlChecker, table: dict[str, Any], field: str, key: str
) -> tuple[Path | None, str | None]:
    """A key file path, or the fingerprint of an `ssh-agent:<fingerprint or public key>`."""
    value = c.string(table, field, key)
    if not value.startswith(AGENT_PREFIX):
        return c.file(value), None
    try:
        return None, parse_key_spec(value[len(AGENT_PREFIX) :])
    except TlogError as e:
        raise c.fail(key, str(e)) from None


def _rotation(c: TomlChecker, value: Any) -> RotationConfig:
    table = c.table(value, "rotation", _ROTATION)
    path, agent = _key_source(c, table, "previous_key_file", "rotation.previous_key_file")
    until = table.get("until")
    if not isinstance(until, datetime.datetime) or until.tzinfo is None:
        raise c.fail(
            "rotation.until", "must be a TOML date-time with an offset, e.g. 2026-12-01T00:00:00Z"
        )
    return RotationConfig(path, agent, until.timestamp())


def _limits(c: TomlChecker, value: Any) -> LimitsConfig:
    table = dict(c.table(value, "limits", {*LIMIT_BOUNDS, "exempt_clients"}))
    if "exempt_clients" in table:
        addresses = c.strings(table["exempt_clients"], "limits.exempt_clients")
        for i, address in enumerate(addresses):
            try:
                ipaddress.ip_address(address)
            except ValueError:
                problem = f"{address!r} is not an IP address"
                raise c.fail(f"limits.exempt_clients[{i}]", problem) from None
        table["exempt_clients"] = frozenset(addresses)
    for k, v in table.items():
        if k == "exempt_clients":
            continue
        low, high, integer = LIMIT_BOUNDS[k]
        ok = type(v) is int if integer else type(v) in (int, float)
        if not ok or not low <= v <= high:
            kind = "an integer" if integer else "a number"
            raise c.fail(f"limits.{k}", f"must be {kind} in {low:g}..{high:g}")
    return LimitsConfig(**table)


def _alerts(c: TomlChecker, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise c.fail("alerts", f"must be a table, not {type(value).__name__}")
    return MappingProxyType(value)


def _log(c: TomlChecker, value: Any, i: int) -> LogConfig:
    key = f"logs[{i}]"
    table = c.table(value, key, _LOG)
    origin = c.string(table, "origin", f"{key}.origin")
    if "vkeys" not in table:
        raise c.fail(f"{key}.vkeys", "missing (required): the log's verifier keys")
    vkeys = c.strings(table["vkeys"], f"{key}.vkeys")
    if not vkeys:
        raise c.fail(f"{key}.vkeys", "must list at least one vkey")
    for j, vkey in enumerate(vkeys):
        try:
            log_verifier(vkey)
        except TlogError as e:
            raise c.fail(f"{key}.vkeys[{j}]", str(e)) from None
    url_key = "tiles_url" if "tiles_url" in table else "url"
    if "tiles_url" in table and ("url" in table or table.get("kind", "tiles") != "tiles"):
        raise c.fail(f"{key}.tiles_url", 'is short for url with kind = "tiles": use url and kind')
    url = c.optional_string(table, url_key, f"{key}.{url_key}")
    kind = c.optional_string(table, "kind", f"{key}.kind") or "tiles"
    if kind not in LEDGER_KINDS:
        known = ", ".join(f'"{k}"' for k in sorted(LEDGER_KINDS))
        raise c.fail(f"{key}.kind", f"unknown ledger kind {kind!r} (one of {known})")
    if "kind" in table and url is None:
        raise c.fail(f"{key}.kind", "needs a url to read the log from")
    qpd = table.get("qpd")
    if qpd is not None and (type(qpd) is not int or not 1 <= qpd <= MAX_QPD):
        raise c.fail(f"{key}.qpd", f"must be an integer in 1..{MAX_QPD} (requests per day)")
    return LogConfig(
        origin=origin,
        vkeys=vkeys,
        url=None if url is None else _url(c, url, f"{key}.{url_key}"),
        kind=kind,
        qpd=qpd,
    )


def parse_config(text: str, path: str | Path) -> WitnessConfig:
    """Validate the TOML `text` of the config file at `path`."""
    c = TomlChecker(path, text, ConfigError, arrays=("logs",), tables=_TABLES)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        # tomllib's message ends with "(at line L, column C)".
        raise ConfigError(f"{c.name}: invalid TOML: {e}") from None
    c.table(data, "", _TOP)
    name = c.string(data, "name", "name")
    if not is_valid_key_name(name):
        raise c.fail("name", f"{name!r} is not a valid key name (no spaces, no '+')")
    logs = tuple(_log(c, v, i) for i, v in enumerate(_array_of_tables(c, data.get("logs", []))))
    seen: dict[str, int] = {}
    for i, log in enumerate(logs):
        if log.origin in seen:
            raise c.fail(f"logs[{i}].origin", f"{log.origin!r} is already logs[{seen[log.origin]}]")
        seen[log.origin] = i
    lists = c.strings(data.get("log_lists", []), "log_lists")
    host, port = _listen(c, c.string(data, "listen", "listen"))
    key_file, key_agent = _key_source(c, data, "key_file", "key_file")
    return WitnessConfig(
        path=c.path,
        name=name,
        key_file=key_file,
        key_agent=key_agent,
        rotation=None if "rotation" not in data else _rotation(c, data["rotation"]),
        limits=_limits(c, data.get("limits", {})),
        database=c.file(c.string(data, "database", "database")),
        host=host,
        port=port,
        logs=logs,
        log_lists=tuple(
            item if urlsplit(item).scheme in ("http", "https") else str(c.file(item))
            for item in lists
        ),
        poll_interval=_interval(c, data, "poll_interval", feeder.DEFAULT_INTERVAL),
        log_list_interval=_interval(c, data, "log_list_interval", listpoller.DEFAULT_INTERVAL),
        gossip=None if "gossip" not in data else _gossip(c, data["gossip"]),
        alerts=_alerts(c, data.get("alerts", {})),
    )


def _array_of_tables(c: TomlChecker, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise c.fail("logs", "must be an array of tables: write each log as [[logs]]")
    return value


def load_config(path: str | Path) -> WitnessConfig:
    """Read and validate the config file at `path`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e}") from None
    return parse_config(text, path)
