"""The demo's closing table: each staged attack, who detected it, how fast, and where
the evidence is. Pure: builds strings, does no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

HEADERS = ("attack", "detected by", "after", "evidence")


@dataclass
class Detection:
    """What one staged attack should have caused, and what it did cause.

    `detectors` are the parties that had to catch it (`short` gives the names to print);
    `caught_by` those that did, with seconds from the attack to each one's detection;
    `also` more lines for the "detected by" column; `evidence` file paths and URLs;
    `problems` what went wrong even though it was detected (an unverifiable file).
    """

    attack: str
    detectors: Sequence[str]
    short: dict[str, str] = field(default_factory=dict)
    caught_by: dict[str, float] = field(default_factory=dict)
    also: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def missed(self) -> list[str]:
        return [d for d in self.detectors if d not in self.caught_by]

    @property
    def caught(self) -> bool:
        return not self.missed and not self.problems

    def first(self) -> float | None:
        return min(self.caught_by.values(), default=None)

    def last(self) -> float | None:
        return max(self.caught_by.values(), default=None)


def _who(d: Detection) -> list[str]:
    def label(name: str) -> str:
        return d.short.get(name, name)

    lines = [f"{label(n)} (+{d.caught_by[n]:.1f} s)" for n in d.detectors if n in d.caught_by]
    lines += [f"MISSED: {label(n)}" for n in d.missed]
    lines += d.also
    lines += [f"PROBLEM: {p}" for p in d.problems]
    return lines


def _speed(d: Detection) -> list[str]:
    first, last = d.first(), d.last()
    if first is None or last is None:
        return ["-"]
    if len(d.caught_by) == 1:
        return [f"{first:.1f} s"]
    return [f"first {first:.1f} s", f"all {last:.1f} s"]


def _row(d: Detection) -> list[list[str]]:
    status = "CAUGHT" if d.caught else "NOT CAUGHT"
    return [[*d.attack.splitlines(), status], _who(d), _speed(d), d.evidence or ["-"]]


def render_table(detections: Sequence[Detection]) -> str:
    """A plain-text table, one row (several lines high) per attack."""
    rows = [[[h] for h in HEADERS], *(_row(d) for d in detections)]
    widths = [max(len(line) for row in rows for line in row[c]) for c in range(len(HEADERS))]
    out: list[str] = []
    for n, row in enumerate(rows):
        height = max(len(cell) for cell in row)
        for i in range(height):
            cells = [
                (cell[i] if i < len(cell) else "").ljust(w)
                for cell, w in zip(row, widths, strict=True)
            ]
            out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
        elif n < len(rows) - 1:
            out.append("")
    return "\n".join(out)
