"""Run one fuzz target under atheris (libFuzzer): `python -m fuzz.driver TARGET [libFuzzer args]`.

The project's modules are imported inside `atheris.instrument_imports`, so libFuzzer
sees their coverage. Normally started by fuzz.run, which parses what libFuzzer prints.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["tlog", "witness", "gossip", "monitor", "fuzz"]):
    from fuzz.targets import TARGETS, run_one


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: python -m fuzz.driver TARGET [libFuzzer args]; TARGET in {list(TARGETS)}")
    target = TARGETS[sys.argv[1]]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], lambda data: run_one(target, data))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
