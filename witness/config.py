"""The witness configuration file (TOML), parsed once into frozen dataclasses.

    name = "example.com/witness"     # the witness's key name, as in key_file
    key_file = "witness.key"          # relative paths are relative to this file
    database = "witness.db"
    listen = "127.0.0.1:7380"         # port 0: any free port
    log_lists = ["https://example.org/log-list.1", "lists/extra.txt"]   # optional

    [[logs]]
    origin = "example.com/log"
    vkeys = ["example.com/log+01234567+AbC..."]   # one or more
    tiles_url = "https://example.com/log/"         # optional: pull checkpoints from here
    qpd = 86400                                    # optional: add-checkpoint requests per day

Every error names the file, the key (`logs[2].vkeys[0]`) and, where it can be
found, the line. Unknown keys are errors, not ignored.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tlog.errors import TlogError
from tlog.note import is_valid_key_name
from witness.errors import ConfigError
from witness.loglist import MAX_QPD
from witness.registry import log_verifier

_TOP = {"name", "key_file", "database", "listen", "log_lists", "logs"}
_LOG = {"origin", "vkeys", "tiles_url", "qpd"}


@dataclass(frozen=True, slots=True)
class LogConfig:
    """One log the operator configured."""

    origin: str
    vkeys: tuple[str, ...]
    tiles_url: str | None = None
    qpd: int | None = None


@dataclass(frozen=True, slots=True)
class WitnessConfig:
    """A validated witness configuration; paths are absolute."""

    path: Path
    name: str
    key_file: Path
    database: Path
    host: str
    port: int
    logs: tuple[LogConfig, ...] = ()
    log_lists: tuple[str, ...] = ()


class _Checker:
    """Validation helpers that raise ConfigError naming file, key and line."""

    def __init__(self, path: str | Path, text: str) -> None:
        self.name = str(path)
        self.path = Path(path).absolute()
        self.lines = text.split("\n")

    def fail(self, key: str, problem: str) -> ConfigError:
        line = self._line_of(key)
        where = f" (line {line})" if line else ""
        return ConfigError(f"{self.name}: {key}: {problem}{where}")

    def _line_of(self, key: str) -> int | None:
        """Best effort: the line of `key`, for files written as tables (no inline tables).

        A key missing from a [[logs]] table points at the table's header.
        """
        m = re.fullmatch(r"logs\[(\d+)\](?:\.(\w+))?.*", key)
        start, end, field = 0, len(self.lines), key.split("[")[0].split(".")[0]
        if m:
            headers = [
                i for i, line in enumerate(self.lines) if re.match(r"\s*\[\[\s*logs\s*\]\]", line)
            ]
            if int(m[1]) >= len(headers):
                return None
            start = headers[int(m[1])]
            if m[2] is None:
                return start + 1
            field = m[2]
        for i in range(start, end):
            line = self.lines[i]
            if i > start and line.lstrip().startswith("["):
                break
            if re.match(rf"\s*{re.escape(field)}\s*=", line):
                return i + 1
        return start + 1 if m else None

    def table(self, value: Any, key: str, allowed: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, not {type(value).__name__}")
        for k in value:
            if k not in allowed:
                near = difflib.get_close_matches(k, sorted(allowed), n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                name = f"{key}.{k}" if key else k
                raise self.fail(name, f"unknown key{hint}; allowed: {', '.join(sorted(allowed))}")
        return value

    def string(self, table: dict[str, Any], field: str, key: str, *, required: bool) -> str | None:
        value = table.get(field)
        if value is None:
            if required:
                raise self.fail(key, "missing (required)")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "must be a non-empty string")
        return value

    def strings(self, value: Any, key: str) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.fail(key, f"must be an array of strings, not {type(value).__name__}")
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise self.fail(f"{key}[{i}]", "must be a non-empty string")
        return tuple(value)

    def file(self, value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else (self.path.parent / p).resolve()


def _listen(c: _Checker, value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdecimal() or not 0 <= int(port) <= 65535:
        raise c.fail("listen", f"{value!r} is not HOST:PORT (IPv6: [::1]:PORT; port 0: any)")
    return host, int(port)


def _url(c: _Checker, value: str, key: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise c.fail(key, f"{value!r} is not an http(s) URL")
    return value


def _log(c: _Checker, value: Any, i: int) -> LogConfig:
    key = f"logs[{i}]"
    table = c.table(value, key, _LOG)
    origin = c.string(table, "origin", f"{key}.origin", required=True)
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
    tiles_url = c.string(table, "tiles_url", f"{key}.tiles_url", required=False)
    qpd = table.get("qpd")
    if qpd is not None and (type(qpd) is not int or not 1 <= qpd <= MAX_QPD):
        raise c.fail(f"{key}.qpd", f"must be an integer in 1..{MAX_QPD} (requests per day)")
    return LogConfig(
        origin=str(origin),
        vkeys=vkeys,
        tiles_url=None if tiles_url is None else _url(c, tiles_url, f"{key}.tiles_url"),
        qpd=qpd,
    )


def parse_config(text: str, path: str | Path) -> WitnessConfig:
    """Validate the TOML `text` of the config file at `path`."""
    c = _Checker(path, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        # tomllib's message ends with "(at line L, column C)".
        raise ConfigError(f"{c.name}: invalid TOML: {e}") from None
    c.table(data, "", _TOP)
    name = str(c.string(data, "name", "name", required=True))
    if not is_valid_key_name(name):
        raise c.fail("name", f"{name!r} is not a valid key name (no spaces, no '+')")
    logs = tuple(_log(c, v, i) for i, v in enumerate(_array_of_tables(c, data.get("logs", []))))
    seen: dict[str, int] = {}
    for i, log in enumerate(logs):
        if log.origin in seen:
            raise c.fail(f"logs[{i}].origin", f"{log.origin!r} is already logs[{seen[log.origin]}]")
        seen[log.origin] = i
    lists = c.strings(data.get("log_lists", []), "log_lists")
    host, port = _listen(c, str(c.string(data, "listen", "listen", required=True)))
    return WitnessConfig(
        path=c.path,
        name=name,
        key_file=c.file(str(c.string(data, "key_file", "key_file", required=True))),
        database=c.file(str(c.string(data, "database", "database", required=True))),
        host=host,
        port=port,
        logs=logs,
        log_lists=tuple(
            item if urlsplit(item).scheme in ("http", "https") else str(c.file(item))
            for item in lists
        ),
    )


def _array_of_tables(c: _Checker, value: Any) -> list[Any]:
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
