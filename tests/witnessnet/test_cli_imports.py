"""`witnessnet --help` must not import the daemons' dependencies.

Command modules import trio, hypercorn, httpx and sqlite_utils inside their handlers
(witnessnet/commands/__init__.py); one top-level import in a command module, or in a
module it imports, would make every `--help` pay for all of them. `python -X importtime`
lists every module a process imports, so this checks that property, not a timing.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("trio", "hypercorn", "httpx", "sqlite_utils")


def heavy_imports(*python_args: str) -> list[str]:
    """The HEAVY modules `python -X importtime PYTHON_ARGS` imports (read from its stderr)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *python_args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    modules = [
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    ]
    assert "encodings" in modules, done.stderr[-2000:]
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["witness", "--help"],
        ["witness", "serve", "--help"],
        ["log", "serve", "--help"],
        ["monitor", "run", "--help"],
    ],
)
def test_help_imports_no_heavy_dependency(argv: list[str]) -> None:
    assert heavy_imports("-m", "witnessnet", *argv) == []


@pytest.mark.parametrize("module", HEAVY)
def test_the_probe_sees_a_heavy_import(module: str) -> None:
    assert module in heavy_imports("-c", f"import {module}")
