"""Checks for a parsed TOML config file whose errors name the file, the key and the line.

A role's config parser makes one TomlChecker from the file's text and path and raises
`checker.fail(key, problem)`, which gives `<file>: <key>: <problem> (line L)` in the
role's own exception class. Keys are written as the operator would find them:
`logs[2].vkeys[0]` (an array of tables), `gossip.enabled` (a table), `listen`.

The line is found in the text by a best-effort search that assumes the file is written
with `[table]` and `[[array]]` headers, not inline tables; a key that cannot be found
gives no line rather than a wrong one. Nothing here reads a file.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any


def unknown_key(key: str, allowed: Collection[str]) -> str:
    """The problem text for a key not in `allowed`, with the nearest allowed key as a hint."""
    near = difflib.get_close_matches(key, sorted(allowed), n=1)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    return f"unknown key{hint}; allowed: {', '.join(sorted(allowed))}"


class TomlChecker:
    """Validation helpers that raise `error` naming file, key and line.

    `arrays` names the arrays of tables (`[[logs]]`) whose indexed keys are found under
    the index-th header; None treats every indexed key that way. `tables` names the
    tables (`[gossip]`) whose `table.field` keys are found under their header.
    """

    def __init__(
        self,
        path: str | Path,
        text: str,
        error: type[Exception],
        *,
        arrays: Collection[str] | None = None,
        tables: Collection[str] = (),
    ) -> None:
        self.name = str(path)
        self.path = Path(path).absolute()
        self.lines = text.split("\n")
        self.error = error
        self._arrays = arrays
        self._tables = tables

    def where(self, key: str) -> str:
        """`<file>: <key> (line L)`, for messages made elsewhere."""
        line = self._line_of(key)
        return f"{self.name}: {key}" + (f" (line {line})" if line else "")

    def fail(self, key: str, problem: str) -> Exception:
        """The error to raise for `problem` with `key`."""
        line = self._line_of(key)
        where = f" (line {line})" if line else ""
        return self.error(f"{self.name}: {key}: {problem}{where}")

    def _line_of(self, key: str) -> int | None:
        """Best effort: the line of `key`; a key missing from an array's table gives its header."""
        t = re.fullmatch(r"(\w+)\.(\w+)(?:\[\d+\])?", key)
        if t and t[1] in self._tables:
            return self._line_in_table(t[1], t[2])
        m = re.fullmatch(r"(\w+)\[(\d+)\](?:\.(\w+))?.*", key)
        indexed = m is not None and (self._arrays is None or m[1] in self._arrays)
        start, field = 0, key.split("[")[0].split(".")[0]
        if m and indexed:
            header = re.compile(rf"\s*\[\[\s*{re.escape(m[1])}\s*\]\]")
            headers = [i for i, line in enumerate(self.lines) if header.match(line)]
            if int(m[2]) >= len(headers):
                return None
            start = headers[int(m[2])]
            if m[3] is None:
                return start + 1
            field = m[3]
        for i in range(start, len(self.lines)):
            line = self.lines[i]
            if i > start and line.lstrip().startswith("["):
                break
            if re.match(rf"\s*{re.escape(field)}\s*=", line):
                return i + 1
        return start + 1 if indexed else None

    def _line_in_table(self, table: str, field: str) -> int | None:
        """The line of `field` in the `[table]` table, else of its header (if any)."""
        header = re.compile(rf"\s*\[\s*{re.escape(table)}\s*\]")
        start = next((i for i, line in enumerate(self.lines) if header.match(line)), None)
        if start is None:
            return None
        for i in range(start + 1, len(self.lines)):
            if self.lines[i].lstrip().startswith("["):
                break
            if re.match(rf"\s*{re.escape(field)}\s*=", self.lines[i]):
                return i + 1
        return start + 1

    def table(self, value: Any, key: str, allowed: Collection[str]) -> dict[str, Any]:
        """`value` as a table with no key outside `allowed`; `key` "" is the top level."""
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, not {type(value).__name__}")
        for k in value:
            if k not in allowed:
                raise self.fail(f"{key}.{k}" if key else k, unknown_key(k, allowed))
        return value

    def string(self, table: dict[str, Any], field: str, key: str) -> str:
        """The required non-empty string `table[field]`."""
        value = self.optional_string(table, field, key)
        if value is None:
            raise self.fail(key, "missing (required)")
        return value

    def optional_string(self, table: dict[str, Any], field: str, key: str) -> str | None:
        """The non-empty string `table[field]`, or None if it is absent."""
        value = table.get(field)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self.fail(key, "must be a non-empty string")
        return value

    def strings(self, value: Any, key: str) -> tuple[str, ...]:
        """`value` as an array of non-empty strings."""
        if not isinstance(value, list):
            raise self.fail(key, f"must be an array of strings, not {type(value).__name__}")
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise self.fail(f"{key}[{i}]", "must be a non-empty string")
        return tuple(value)

    def file(self, value: str) -> Path:
        """A path from the file, absolute; a relative one is relative to the file's folder."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else (self.path.parent / p).resolve()
