"""The `witnessnet` command line: one entry point, one subcommand module per area.

Each module in `witnessnet.commands` exposes `register(subparsers)`, which adds
its subcommand with a handler `func(args) -> int` (the exit status).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from witnessnet.commands import all_commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="witnessnet",
        description=(
            "A gossip-based witness and monitor network for transparency logs. "
            "Run `witnessnet COMMAND --help` for each command's contract."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in all_commands():
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
