"""Subcommand modules; each exposes `register(subparsers)` and an `ORDER` for `--help`.

Every module in this package is a command: `all_commands` finds them, so adding a
command is adding a module. Modules import heavy dependencies (trio, hypercorn)
inside their handlers, so that `witnessnet --help` stays fast.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def all_commands() -> list[ModuleType]:
    """Every command module, in `--help` order (module ORDER, then name)."""
    modules = [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_")
    ]
    return sorted(modules, key=lambda m: (getattr(m, "ORDER", 100), m.__name__))
