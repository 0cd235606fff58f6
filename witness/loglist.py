"""Witness-network `logs/v0` log lists (pure parsing).

After `#` comment lines and blank lines are dropped (and surrounding whitespace
trimmed), a list is the header line `logs/v0` followed by entries, each the
lines, in this order:

    vkey <vkey>
    origin <origin or "none">   (optional; default and "none": the vkey's name)
    bastion <url or "none">     (optional; ignored here)
    qpd <1..2^31-1>             (add-checkpoint requests per day)
    contact <free text>

Anything else is an error naming the line: a list is input to an add-only trust
decision, so an entry that cannot be read exactly is not guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass

from tlog.errors import TlogError
from witness.errors import ConfigError
from witness.registry import log_verifier

HEADER = "logs/v0"
MAX_QPD = (1 << 31) - 1


@dataclass(frozen=True, slots=True)
class LogListEntry:
    """One log of a list; `line` is where its vkey line is."""

    origin: str
    vkey: str
    qpd: int
    contact: str
    line: int


def _lines(text: str) -> list[tuple[int, str]]:
    out = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            out.append((number, line))
    return out


def parse_log_list(text: str, source: str) -> tuple[LogListEntry, ...]:
    """Parse a logs/v0 list; raise ConfigError naming `source` and the line."""
    lines = _lines(text)
    if not lines or lines[0][1] != HEADER:
        where = f"line {lines[0][0]}" if lines else "end of file"
        raise ConfigError(f"{source}: {where}: want the header {HEADER!r}")
    entries: list[LogListEntry] = []
    origins: dict[str, int] = {}
    i = 1
    while i < len(lines):
        fields: dict[str, tuple[int, str]] = {}
        for keyword, required in (
            ("vkey", True),
            ("origin", False),
            ("bastion", False),
            ("qpd", True),
            ("contact", True),
        ):
            number, line = lines[i] if i < len(lines) else (None, "")
            word, _, value = line.partition(" ")
            if word == keyword and value.strip():
                fields[keyword] = (number, value.strip())
                i += 1
            elif required:
                where = f"line {number}" if number else "end of file"
                raise ConfigError(f"{source}: {where}: want '{keyword} <value>', got {line!r}")
        entries.append(_entry(fields, source))
        first = origins.setdefault(entries[-1].origin, entries[-1].line)
        if first != entries[-1].line:
            raise ConfigError(
                f"{source}: line {entries[-1].line}: origin {entries[-1].origin!r} "
                f"is already listed at line {first}"
            )
    return tuple(entries)


def _entry(fields: dict[str, tuple[int, str]], source: str) -> LogListEntry:
    vkey_line, vkey = fields["vkey"]
    try:
        name = log_verifier(vkey).name
    except TlogError as e:
        raise ConfigError(f"{source}: line {vkey_line}: {e}") from None
    origin = fields.get("origin", (0, "none"))[1]
    qpd_line, qpd_text = fields["qpd"]
    if not (qpd_text.isascii() and qpd_text.isdecimal()) or not 1 <= int(qpd_text) <= MAX_QPD:
        raise ConfigError(f"{source}: line {qpd_line}: qpd must be an integer in 1..{MAX_QPD}")
    return LogListEntry(
        origin=name if origin == "none" else origin,
        vkey=vkey,
        qpd=int(qpd_text),
        contact=fields["contact"][1],
        line=vkey_line,
    )
