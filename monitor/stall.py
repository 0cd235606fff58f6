"""Stall detection: a log whose verified size has not grown for `stall_after` seconds.

A pure state machine per log, fed the size of the newest checkpoint each completed
pass verified (None when the pass failed: a log that cannot be read does not
advance either). It answers what to do:

- `Raise(alert)`: the verified size has stayed the same for `stall_after` seconds
  and no stall is open: raise a `log-stalled` warn (docs/alerts.md);
- `Resolve(key)`: the verified size grew while a stall was open: close it.

Hysteresis, both ways: a stall opens only after `stall_after` seconds without growth
(a pass that fails now and then changes nothing), and closes only when the size grows,
never on a pass that merely succeeds. The alerts outbox adds its `warn_hold_seconds`
on top. A stall is keyed by log and size (`monitor:<origin>:log-stalled:<size>`), so
raising it again after a restart is deduplicated, and the next stall, at a larger size,
is a new alert. The clock of a log starts at its first observation (after a restart:
at the first pass), so a restart can only delay a stall alert, never invent one.
"""

from __future__ import annotations

from dataclasses import dataclass

from tlog.alert import Alert

KIND = "log-stalled"


@dataclass(frozen=True, slots=True)
class Raise:
    """Raise this alert; call `StallWatch.opened` once the sinks accepted it."""

    log: str
    alert: Alert


@dataclass(frozen=True, slots=True)
class Resolve:
    """The stall with this dedupe key is over."""

    log: str
    dedupe_key: str


@dataclass(frozen=True, slots=True)
class LogStall:
    """Where one log stands: its verified size, since when, and the open stall if any."""

    size: int
    since: float
    open_key: str | None = None


def stall_key(origin: str, size: int) -> str:
    return f"monitor:{origin}:{KIND}:{size}"


def stall_alert(log: str, origin: str, size: int, since: float, now: float) -> Alert:
    seconds = int(now - since)
    return Alert(
        cls="warn",
        kind=KIND,
        subject=origin,
        summary=(
            f"{origin}: no checkpoint newer than size {size} verified for {seconds}s; the log "
            "stopped growing, or its checkpoints no longer meet the policy, or it is unreachable"
        ),
        dedupe_key=stall_key(origin, size),
        details={"log": log, "origin": origin, "size": size, "since": int(since)},
    )


class StallWatch:
    """The stall state of every log; `stall_after` 0 turns stall alerts off."""

    def __init__(self, stall_after: float) -> None:
        self.stall_after = stall_after
        self._logs: dict[str, LogStall] = {}

    def get(self, log: str) -> LogStall | None:
        return self._logs.get(log)

    def observe(
        self, log: str, origin: str, size: int | None, now: float
    ) -> Raise | Resolve | None:
        """Account for a pass of `log` that verified `size` (None: the pass failed)."""
        state = self._logs.get(log)
        if state is None:
            self._logs[log] = LogStall(size or 0, now)
            return None
        if size is not None and size > state.size:
            self._logs[log] = LogStall(size, now)
            return None if state.open_key is None else Resolve(log, state.open_key)
        if state.open_key is not None or self.stall_after <= 0:
            return None
        if now - state.since < self.stall_after:
            return None
        return Raise(log, stall_alert(log, origin, state.size, state.since, now))

    def opened(self, log: str, dedupe_key: str) -> None:
        """The stall alert with `dedupe_key` was raised (accepted by every sink)."""
        state = self._logs[log]
        self._logs[log] = LogStall(state.size, state.since, dedupe_key)
