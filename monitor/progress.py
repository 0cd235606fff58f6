"""Progress of a catch-up: a bar with rate and ETA on a terminal, JSON log lines otherwise."""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from typing import Protocol, TextIO

logger = logging.getLogger("monitor")


class Progress(Protocol):
    """Told how far each log's pass is: done of total entries."""

    def update(self, log: str, done: int, total: int) -> None: ...

    def finish(self, log: str, done: int, total: int) -> None: ...


@dataclass
class _Pass:
    started: float
    done: int = 0
    total: int = 0
    shown: float = 0.0

    def rate(self, now: float) -> float:
        return self.done / max(now - self.started, 1e-6)

    def eta(self, now: float) -> float:
        rate = self.rate(now)
        return (self.total - self.done) / rate if rate > 0 else float("inf")


def _clock(seconds: float) -> str:
    if seconds == float("inf"):
        return "--:--"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"


@dataclass
class TerminalProgress:
    """A one-line bar on a terminal, redrawn at most every `interval` seconds."""

    stream: TextIO
    interval: float = 0.1
    passes: dict[str, _Pass] = field(default_factory=dict)

    def _state(self, log: str) -> _Pass:
        return self.passes.setdefault(log, _Pass(time.monotonic()))

    def update(self, log: str, done: int, total: int) -> None:
        p = self._state(log)
        p.done, p.total = done, total
        now = time.monotonic()
        if now - p.shown >= self.interval:
            p.shown = now
            self._draw(log, p, now)

    def _draw(self, log: str, p: _Pass, now: float) -> None:
        width = max(10, min(40, shutil.get_terminal_size().columns - 70))
        frac = p.done / p.total if p.total else 1.0
        bar = "#" * int(width * frac) + "." * (width - int(width * frac))
        line = (
            f"{log[:24]:<24} [{bar}] {100 * frac:5.1f}% {p.done:,}/{p.total:,} "
            f"{p.rate(now):,.0f}/s ETA {_clock(p.eta(now))}"
        )
        self.stream.write("\r\x1b[K" + line)
        self.stream.flush()

    def finish(self, log: str, done: int, total: int) -> None:
        p = self._state(log)
        p.done, p.total = done, total
        self._draw(log, p, time.monotonic())
        self.stream.write("\n")
        self.stream.flush()
        del self.passes[log]


@dataclass
class LogProgress:
    """Log lines (JSON via the CLI's logging): one per `interval` seconds per log, and a last."""

    interval: float = 5.0
    passes: dict[str, _Pass] = field(default_factory=dict)

    def _log(self, msg: str, log: str, p: _Pass, now: float) -> None:
        logger.info(
            msg,
            extra={
                "log": log,
                "done": p.done,
                "total": p.total,
                "rate": round(p.rate(now), 1),
                "eta_s": None if p.eta(now) == float("inf") else round(p.eta(now), 1),
            },
        )

    def update(self, log: str, done: int, total: int) -> None:
        now = time.monotonic()
        p = self.passes.setdefault(log, _Pass(now, shown=now))
        p.done, p.total = done, total
        if now - p.shown >= self.interval:
            p.shown = now
            self._log("progress", log, p, now)

    def finish(self, log: str, done: int, total: int) -> None:
        now = time.monotonic()
        p = self.passes.pop(log, _Pass(now))
        p.done, p.total = done, total
        self._log("caught up", log, p, now)
