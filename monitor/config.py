"""The monitor configuration file (TOML), parsed once into frozen dataclasses.

    state = "monitor.db"        # SQLite state; relative paths are relative to this file
    poll_interval = 60          # seconds between passes of `monitor run`
    batch_size = 4096           # entries per transaction (a multiple of 256)
    connections = 8             # entry bundles fetched at once, per log
    timeout = 10                # seconds per HTTP request
    listen = "127.0.0.1:9380"   # optional: serve the status page and /metrics (port 0: any)
    stall_after = 3600          # seconds without a newer verified checkpoint before a
                                # log-stalled warning; 0: never

    watch_domains = ["example.com", ".example.org"]   # CT: names to report certificates for
    watch_list = "domains.txt"                 # CT: more of them, one per line (# comments)

    [[logs]]
    name = "firmware"                          # optional, default: the origin
    kind = "tiles"                             # tiles (default), ct, static-ct, ccf, scitt
    origin = "example.com/firmware"
    vkey = "example.com/firmware+01234567+AbC..."
    url = "https://example.com/firmware/"      # the tlog-tiles base URL (ct: the RFC 6962
                                               # prefix before /ct/v1/; static-ct: the
                                               # monitoring prefix; ccf: where the committed
                                               # chunks and ledger-chunks.txt are; scitt:
                                               # the service's read API, docs/scitt.md)
    claims = ["firmware"]                      # claim types; [] = audit only
    policy = "witnesses.policy"                # optional C2SP tlog-policy: the witness quorum
    checkpoints = ["https://w.example/<hex>/checkpoint"]   # optional cosigned checkpoint sources

    [[components]]                             # release claims: who signs, attested builds
    name = "TRUSTED_APPLET"
    signers = ["vkey", ...]
    threshold = 1
    builds = { "1.2.3" = "<hex SHA-256>" }

    [[providers]]                              # key bindings: who signs for a provider
    name = "example.com"
    signers = ["vkey", ...]

    [[issuers]]                                # SCITT: SHA-256 of the signing certificates
    name = "did:x509:..."
    certificates = ["<hex SHA-256 of DER>"]

    [[identities]]                             # watched identities and their expected keys
    name = "alice@example.com"
    keys = ["vkey", ...]

    [[sinks]]                                  # where findings go; default: stderr
    type = "jsonl"
    path = "findings.jsonl"

    [alerts]                                   # optional: the product shell's alert outbox
    webhooks = ["https://alerts.example.com/hook"]

Every error names the file, the key (``logs[1].vkey``) and, where it can be
found, the line. Unknown keys are errors. Sink tables and the ``[alerts]``
table are passed through, unparsed, to the caller (the CLI), which owns them.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from monitor.claims import CLAIM_TYPES, ClaimType
from monitor.errors import ConfigError
from monitor.rules import Rules, Signers
from monitor.watchlist import WatchList, parse_watch_list
from tlog.errors import PolicyError, TlogError
from tlog.keys import (
    ALG_EXTENDED,
    CcfCoseVerifier,
    CoseRfc9162Verifier,
    RFC6962Verifier,
    parse_vkey,
    split_key,
)
from tlog.note import Verifier
from tlog.policy import LOG_KEY_TYPES, Policy, parse_policy
from tlog.tiles import TILE_WIDTH
from tlog.tomlcheck import TomlChecker

_TOP = {"state", "poll_interval", "batch_size", "connections", "timeout", "logs", "components",
        "providers", "issuers", "identities", "sinks", "alerts", "listen",
        "stall_after", "watch_domains", "watch_list"}  # fmt: skip
_LOG = {"name", "origin", "vkey", "url", "claims", "policy", "checkpoints", "kind"}
MONITOR_KINDS = ("tiles", "ct", "static-ct", "ccf", "scitt")
"""Ledger kinds a monitor follows: their sources yield entries and give inclusion proofs."""
_KIND_KEYS = {
    "ct": (RFC6962Verifier, "type 0x05 (RFC 6962)"),
    "static-ct": (RFC6962Verifier, "type 0x05 (RFC 6962)"),
    "ccf": (CcfCoseVerifier, "type 0xff ccf-cose-root/v1 (witnessnet ccf vkey)"),
    "scitt": (CoseRfc9162Verifier, "type 0xff cose-rfc9162-root/v1 (witnessnet scitt vkey)"),
}
"""Kinds whose heads only one vkey type verifies; that key's name is the origin."""
_SIGNERS = {"name", "signers", "threshold", "builds"}
_ISSUER = {"name", "certificates"}
_IDENTITY = {"name", "keys"}
_HEX64 = re.compile(r"[0-9a-f]{64}")
DEFAULT_STALL_AFTER = 3600.0


@dataclass(frozen=True, slots=True)
class LogConfig:
    """One log to monitor."""

    name: str
    origin: str
    vkey: str
    verifier: Verifier
    url: str
    claims: tuple[ClaimType, ...]
    policy: Policy | None = None
    checkpoints: tuple[str, ...] = ()
    kind: str = "tiles"


@dataclass(frozen=True, slots=True)
class SinkConfig:
    """One [[sinks]] table: its type, its other keys, and where it is (for error messages)."""

    type: str
    options: Mapping[str, Any]
    where: str
    base: Path

    def error(self, problem: str) -> ConfigError:
        """A ConfigError naming this table."""
        return ConfigError(f"{self.where}: {problem}")

    def path(self, key: str) -> Path:
        """Option key as a path, relative to the configuration file's directory."""
        value = self.options.get(key)
        if not isinstance(value, str) or not value:
            raise self.error(f"{key} must be a non-empty string (a file path)")
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base / p


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    """A validated monitor configuration; paths are absolute."""

    path: Path
    state: Path
    logs: tuple[LogConfig, ...]
    rules: Rules
    sinks: tuple[SinkConfig, ...]
    poll_interval: float = 60.0
    batch_size: int = 4096
    connections: int = 8
    timeout: float = 10.0
    alerts: Mapping[str, Any] | None = None
    listen: tuple[str, int] | None = None
    stall_after: float = DEFAULT_STALL_AFTER


def _tables(c: TomlChecker, top: dict[str, Any], name: str) -> list[dict[str, Any]]:
    value = top.get(name, [])
    if not isinstance(value, list):
        raise c.fail(name, f"must be an array of tables ([[{name}]])")
    return value


def _strings(c: TomlChecker, table: dict[str, Any], name: str, key: str) -> tuple[str, ...]:
    """An array of strings, default empty; one string is an array of one."""
    value = table.get(name, [])
    return c.strings([value] if isinstance(value, str) else value, key)


def _number(
    c: TomlChecker, table: dict[str, Any], name: str, default: float, low: float, high: float
) -> float:
    value = table.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise c.fail(name, f"must be a number in {low}..{high}")
    return float(value)


def _read(c: TomlChecker, key: str, value: str) -> bytes:
    try:
        return c.file(value).read_bytes()
    except OSError as e:
        raise c.fail(key, f"cannot read {value}: {e.strerror}") from None


def _vkey(c: TomlChecker, vkey: str, key: str, log: bool = False) -> Verifier:
    try:
        if log and split_key(vkey, "vkey").alg not in (*LOG_KEY_TYPES, ALG_EXTENDED):
            raise c.fail(key, "is not a log key (type 0x01, 0x02, 0x05 or 0xff)")
        return parse_vkey(vkey)
    except TlogError as e:
        raise c.fail(key, str(e)) from None


def _url(c: TomlChecker, value: str, key: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise c.fail(key, f"{value!r} is not an http(s) URL")
    return value


def _log(c: TomlChecker, raw: Any, i: int) -> LogConfig:
    key = f"logs[{i}]"
    t = c.table(raw, key, _LOG)
    origin = c.string(t, "origin", f"{key}.origin")
    vkey = c.string(t, "vkey", f"{key}.vkey")
    verifier = _vkey(c, vkey, f"{key}.vkey", log=True)
    url = _url(c, c.string(t, "url", f"{key}.url"), f"{key}.url")
    names = ["none"] if t.get("claims") == "none" else _strings(c, t, "claims", f"{key}.claims")
    claims = []
    for j, name in enumerate(n for n in names if n != "none"):
        if name not in CLAIM_TYPES:
            known = ", ".join(sorted(CLAIM_TYPES))
            raise c.fail(f"{key}.claims[{j}]", f"unknown claim type {name!r}; known: {known}")
        claims.append(CLAIM_TYPES[name])
    policy = None
    if "policy" in t:
        value = c.string(t, "policy", f"{key}.policy")
        try:
            policy = parse_policy(_read(c, f"{key}.policy", value))
        except PolicyError as e:
            raise c.fail(f"{key}.policy", f"{value}: {e}") from None
    checkpoints = tuple(
        _url(c, u, f"{key}.checkpoints[{j}]")
        for j, u in enumerate(_strings(c, t, "checkpoints", f"{key}.checkpoints"))
    )
    name = c.optional_string(t, "name", f"{key}.name") or origin
    kind = c.optional_string(t, "kind", f"{key}.kind") or "tiles"
    if kind not in MONITOR_KINDS:
        known = ", ".join(MONITOR_KINDS)
        raise c.fail(f"{key}.kind", f"unknown kind {kind!r}; a monitor follows {known}")
    want = _KIND_KEYS.get(kind)
    if want is None and isinstance(verifier, CcfCoseVerifier | CoseRfc9162Verifier):
        raise c.fail(f"{key}.vkey", f"a COSE root key is for kind ccf or scitt, not {kind}")
    if want is not None and not isinstance(verifier, want[0]):
        raise c.fail(f"{key}.vkey", f"a {kind} log is verified with its {want[1]} vkey")
    if want is not None and verifier.name != origin:
        raise c.fail(f"{key}.origin", f"must be the name of the log's vkey, {verifier.name!r}")
    if kind == "ccf" and claims:
        raise c.fail(
            f"{key}.claims",
            "a ccf ledger's entries are leaf digests, not claims: the monitor audits its "
            "tree only (claims = [])",
        )
    return LogConfig(name, origin, vkey, verifier, url, tuple(claims), policy, checkpoints, kind)


def _signers(c: TomlChecker, raw: Any, key: str) -> Signers:
    t = c.table(raw, key, _SIGNERS)
    name = c.string(t, "name", f"{key}.name")
    vkeys = _strings(c, t, "signers", f"{key}.signers")
    if not vkeys:
        raise c.fail(f"{key}.signers", "must list at least one vkey")
    verifiers = tuple(_vkey(c, v, f"{key}.signers[{j}]") for j, v in enumerate(vkeys))
    threshold = t.get("threshold", 1)
    if isinstance(threshold, bool) or not isinstance(threshold, int):
        raise c.fail(f"{key}.threshold", "must be an integer")
    if not 1 <= threshold <= len(vkeys):
        raise c.fail(f"{key}.threshold", f"must be 1..{len(vkeys)} (the number of signers)")
    builds = t.get("builds", {})
    if not isinstance(builds, dict):
        raise c.fail(f"{key}.builds", "must be a table of version = hex SHA-256")
    for version, digest in builds.items():
        if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
            raise c.fail(f"{key}.builds", f"{version}: want 64 lowercase hex digits")
    return Signers(name, verifiers, frozenset(), threshold, MappingProxyType(dict(builds)))


def _issuer(c: TomlChecker, raw: Any, key: str) -> Signers:
    t = c.table(raw, key, _ISSUER)
    name = c.string(t, "name", f"{key}.name")
    certs = _strings(c, t, "certificates", f"{key}.certificates")
    for j, cert in enumerate(certs):
        if not _HEX64.fullmatch(cert):
            raise c.fail(f"{key}.certificates[{j}]", "want 64 lowercase hex digits (SHA-256)")
    if not certs:
        raise c.fail(f"{key}.certificates", "must list at least one certificate digest")
    return Signers(name, certificates=frozenset(certs))


def _named(c: TomlChecker, items: list[Signers], section: str) -> Mapping[str, Signers]:
    out: dict[str, Signers] = {}
    for i, item in enumerate(items):
        if item.name in out:
            raise c.fail(f"{section}[{i}].name", f"{item.name!r} is configured twice")
        out[item.name] = item
    return MappingProxyType(out)


def _rules(c: TomlChecker, top: dict[str, Any]) -> Rules:
    components = [
        _signers(c, t, f"components[{i}]") for i, t in enumerate(_tables(c, top, "components"))
    ]
    providers = [
        _signers(c, t, f"providers[{i}]") for i, t in enumerate(_tables(c, top, "providers"))
    ]
    issuers = [_issuer(c, t, f"issuers[{i}]") for i, t in enumerate(_tables(c, top, "issuers"))]
    identities: dict[str, frozenset[str]] = {}
    for i, raw in enumerate(_tables(c, top, "identities")):
        key = f"identities[{i}]"
        t = c.table(raw, key, _IDENTITY)
        name = c.string(t, "name", f"{key}.name")
        keys = _strings(c, t, "keys", f"{key}.keys")
        for j, vkey in enumerate(keys):
            _vkey(c, vkey, f"{key}.keys[{j}]")
        if name in identities:
            raise c.fail(f"{key}.name", f"{name!r} is configured twice")
        identities[name] = frozenset(keys)
    return Rules(
        _named(c, components, "components"),
        _named(c, providers, "providers"),
        _named(c, issuers, "issuers"),
        MappingProxyType(identities),
        _watch(c, top),
    )


def _watch(c: TomlChecker, top: dict[str, Any]) -> WatchList:
    entries = list(_strings(c, top, "watch_domains", "watch_domains"))
    where = f"{c.name}: watch_domains"
    if "watch_list" in top:
        value = c.string(top, "watch_list", "watch_list")
        try:
            text = _read(c, "watch_list", value).decode("utf-8")
        except UnicodeDecodeError:
            raise c.fail("watch_list", f"{value} is not UTF-8") from None
        inline = parse_watch_list(entries, where)
        listed = parse_watch_list(text.split("\n"), f"{c.file(value)}: line")
        return WatchList(inline.exact | listed.exact, inline.subtrees | listed.subtrees)
    return parse_watch_list(entries, where)


def _sinks(c: TomlChecker, top: dict[str, Any]) -> tuple[SinkConfig, ...]:
    out = []
    for i, raw in enumerate(_tables(c, top, "sinks")):
        key = f"sinks[{i}]"
        if not isinstance(raw, dict):
            raise c.fail(key, "must be a table")
        kind = c.string(raw, "type", f"{key}.type")
        options = MappingProxyType({k: v for k, v in raw.items() if k != "type"})
        out.append(SinkConfig(kind, options, c.where(key), c.path.parent))
    if not out:
        out.append(
            SinkConfig("stderr", MappingProxyType({}), f"{c.name}: (default sink)", c.path.parent)
        )
    return tuple(out)


def _alerts(c: TomlChecker, top: dict[str, Any]) -> Mapping[str, Any] | None:
    table = top.get("alerts")
    if table is None:
        return None
    if not isinstance(table, dict):
        raise c.fail("alerts", f"must be a table, not {type(table).__name__}")
    return MappingProxyType(table)


def _listen(c: TomlChecker, top: dict[str, Any]) -> tuple[str, int] | None:
    if "listen" not in top:
        return None
    value = c.string(top, "listen", "listen")
    host, sep, port = value.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdecimal() or not 0 <= int(port) <= 65535:
        raise c.fail("listen", f"{value!r} is not HOST:PORT (IPv6: [::1]:PORT; port 0: any)")
    return host, int(port)


def parse_config(text: str, path: Path) -> MonitorConfig:
    """Parse configuration text read from path; raise ConfigError naming file, key and line."""
    c = TomlChecker(path, text, ConfigError)
    try:
        top = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    c.table(top, "", _TOP)
    logs = tuple(_log(c, t, i) for i, t in enumerate(_tables(c, top, "logs")))
    if not logs:
        raise c.fail("logs", "configure at least one [[logs]] table")
    seen: dict[str, int] = {}
    for i, log in enumerate(logs):
        if log.name in seen:
            raise c.fail(f"logs[{i}].name", f"{log.name!r} is also logs[{seen[log.name]}]")
        seen[log.name] = i
    batch = int(_number(c, top, "batch_size", 4096, TILE_WIDTH, 1 << 20))
    if batch % TILE_WIDTH:
        raise c.fail("batch_size", f"must be a multiple of {TILE_WIDTH}")
    return MonitorConfig(
        path=c.path,
        state=c.file(c.string(top, "state", "state")),
        logs=logs,
        rules=_rules(c, top),
        sinks=_sinks(c, top),
        poll_interval=_number(c, top, "poll_interval", 60, 0.01, 86400),
        batch_size=batch,
        connections=int(_number(c, top, "connections", 8, 1, 256)),
        timeout=_number(c, top, "timeout", 10, 0.1, 3600),
        alerts=_alerts(c, top),
        listen=_listen(c, top),
        stall_after=_number(c, top, "stall_after", DEFAULT_STALL_AFTER, 0, 365 * 86400),
    )


def load_config(path: str | Path) -> MonitorConfig:
    """Read and parse the configuration file at path."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: cannot read: {e}") from None
    return parse_config(text, p)
