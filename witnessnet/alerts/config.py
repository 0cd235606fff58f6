"""Alert settings: the `[alerts]` table of a daemon's config file, parsed into a dataclass.

    [alerts]
    webhooks = ["https://alerts.example.com/hook"]   # page and warn alerts are POSTed here
    log_file = "alerts.jsonl"      # optional: JSON lines go here instead of stderr
    warn_hold_seconds = 300        # a warn is delivered only if not resolved within this
    retry_initial_seconds = 1      # first retry delay; doubles per attempt, with jitter
    retry_max_seconds = 300        # upper bound of a retry delay
    webhook_timeout_seconds = 10   # one webhook request, from connect to response

Every key is optional. Unknown keys are errors, not ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tlog.tomlcheck import unknown_key
from witnessnet.alerts.errors import AlertsConfigError

_SECONDS = {
    "warn_hold_seconds": "warn_hold",
    "retry_initial_seconds": "retry_initial",
    "retry_max_seconds": "retry_max",
    "webhook_timeout_seconds": "webhook_timeout",
}
_KEYS = {"webhooks", "log_file", *_SECONDS}


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    """Validated alert settings; times in seconds; `log_file` None means stderr."""

    webhooks: tuple[str, ...] = ()
    log_file: Path | None = None
    warn_hold: float = 300.0
    retry_initial: float = 1.0
    retry_max: float = 300.0
    webhook_timeout: float = 10.0


def _seconds(table: dict[str, Any], key: str, where: str, default: float) -> float:
    value = table.get(key, default)
    positive = key != "warn_hold_seconds"
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
        or (positive and value == 0)
    ):
        bound = "> 0" if positive else ">= 0"
        raise AlertsConfigError(
            f"{where}.{key}: must be a number of seconds {bound}, not {value!r}"
        )
    return float(value)


def _is_http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _webhooks(value: Any, where: str) -> tuple[str, ...]:
    key = f"{where}.webhooks"
    if not isinstance(value, list):
        raise AlertsConfigError(f"{key}: must be an array of URLs, not {type(value).__name__}")
    for i, url in enumerate(value):
        if not _is_http_url(url):
            raise AlertsConfigError(f"{key}[{i}]: {url!r} is not an http(s) URL")
        if url in value[:i]:
            raise AlertsConfigError(f"{key}[{i}]: {url!r} is listed twice")
    return tuple(value)


def parse_alerts_config(
    table: dict[str, Any], where: str, *, base: Path | None = None
) -> AlertsConfig:
    """Validate an `[alerts]` table (as `tomllib` returns it).

    `where` prefixes every key in error messages and should name the file and the
    table, e.g. `"witness.toml: alerts"` gives `witness.toml: alerts.webhooks[1]: ...`.
    A relative `log_file` is relative to `base` (the config file's directory; default:
    the current directory). Raises AlertsConfigError.
    """
    if not isinstance(table, dict):
        raise AlertsConfigError(f"{where}: must be a table, not {type(table).__name__}")
    for key in table:
        if key not in _KEYS:
            raise AlertsConfigError(f"{where}.{key}: {unknown_key(key, _KEYS)}")
    log_file = table.get("log_file")
    if log_file is not None and (not isinstance(log_file, str) or not log_file.strip()):
        raise AlertsConfigError(f"{where}.log_file: must be a non-empty path string")
    defaults = AlertsConfig()
    seconds = {
        field: _seconds(table, key, where, getattr(defaults, field))
        for key, field in _SECONDS.items()
    }
    if seconds["retry_max"] < seconds["retry_initial"]:
        raise AlertsConfigError(
            f"{where}.retry_max_seconds: must be at least retry_initial_seconds "
            f"({seconds['retry_initial']:g})"
        )
    return AlertsConfig(
        webhooks=_webhooks(table.get("webhooks", []), where),
        log_file=None if log_file is None else (base or Path.cwd()) / Path(log_file).expanduser(),
        **seconds,
    )
