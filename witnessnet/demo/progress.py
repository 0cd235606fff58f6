"""The demo's progress lines: one per step, stamped with the seconds since the start."""

from __future__ import annotations

import time
from typing import IO


class Progress:
    """Writes `[ 12.3s] step` lines, indented detail lines and plain lines to `out`."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def step(self, text: str) -> None:
        self.line(f"[{self.elapsed():5.1f}s] {text}")

    def detail(self, text: str) -> None:
        self.line(f"         {text}")

    def line(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)
