"""Run fuzz targets under atheris and report executions, coverage and crashes.

    python -m fuzz.run                          every target, 10 s each
    python -m fuzz.run --target note --seconds 600
    python -m fuzz.run --json                   one JSON object per target on stdout

Each target runs in its own process (`python -m fuzz.driver`), seeded from the
checked-in corpus fuzz/corpus/<target>/ (read only) and a scratch corpus in the
work directory (default fuzz/work/, not checked in), which keeps what the fuzzer
found for the next run. A crash is any exception outside the target's typed
errors, or a timeout; its input is written to <work>/<target>/crash-<sha1>.
Add it to the checked-in corpus once the parser is fixed.

Exit status: 0 when no target crashed, 1 when one did, 2 for bad usage.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from fuzz.targets import TARGETS

HERE = Path(__file__).parent
CORPUS = HERE / "corpus"
WORK = HERE / "work"
# One input may take this long before libFuzzer calls it a hang (a crash).
INPUT_TIMEOUT = 20


@dataclass(frozen=True)
class Result:
    """What one run of one target showed."""

    target: str
    seconds: float
    executions: int
    execs_per_second: int
    coverage: int
    features: int
    corpus: int
    crashes: int
    artifacts: tuple[str, ...]
    returncode: int
    error: str


def _last_int(pattern: str, text: str) -> int:
    found = re.findall(pattern, text)
    return int(found[-1]) if found else 0


def parse_output(target: str, seconds: float, output: str, returncode: int) -> Result:
    """Read libFuzzer's statistics and crash lines from the driver's output."""
    artifacts = tuple(re.findall(r"Test unit written to (\S+)", output))
    crashed = returncode != 0 or bool(artifacts)
    error = ""
    if crashed:
        m = re.search(r"=== Uncaught Python exception: ===\n(.*?)(?:\n\S*Traceback|\n\n|$)", output)
        error = m.group(1).strip() if m else output.strip().splitlines()[-1:][0] if output else ""
    return Result(
        target=target,
        seconds=seconds,
        executions=_last_int(r"stat::number_of_executed_units: (\d+)", output)
        or _last_int(r"#(\d+)\s", output),
        execs_per_second=_last_int(r"stat::average_exec_per_sec:\s+(\d+)", output)
        or _last_int(r"exec/s: (\d+)", output),
        coverage=_last_int(r"\bcov: (\d+)", output),
        features=_last_int(r"\bft: (\d+)", output),
        corpus=_last_int(r"\bcorp: (\d+)/", output),
        crashes=max(len(artifacts), 1) if crashed else 0,
        artifacts=artifacts,
        returncode=returncode,
        error=error,
    )


def run_target(
    target: str, seconds: int, work: Path = WORK, python: str = sys.executable
) -> Result:
    """Fuzz `target` for `seconds` in a child process and return what it reported."""
    scratch = work / target / "corpus"
    scratch.mkdir(parents=True, exist_ok=True)
    seeds = CORPUS / target
    command = [
        python,
        "-m",
        "fuzz.driver",
        target,
        f"-max_total_time={seconds}",
        f"-timeout={INPUT_TIMEOUT}",
        f"-max_len={TARGETS[target].max_len}",
        "-rss_limit_mb=2048",
        "-print_final_stats=1",
        f"-artifact_prefix={work / target}/",
        str(scratch),
        str(seeds),
    ]
    start = time.monotonic()
    done = subprocess.run(
        command,
        cwd=HERE.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=seconds + 120,
        check=False,
    )
    output = done.stdout.decode("utf-8", "replace")
    (work / target / "last-run.log").write_text(output)
    return parse_output(target, time.monotonic() - start, output, done.returncode)


def _line(r: Result) -> str:
    status = f"CRASH {r.error} {' '.join(r.artifacts)}" if r.crashes else "ok"
    return (
        f"{r.target:15} {r.executions:>11,} execs {r.execs_per_second:>7,}/s "
        f"cov {r.coverage:>5} ft {r.features:>5} corpus {r.corpus:>5}  {status}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fuzz.run",
        description="Fuzz the project's parsers with atheris; report executions and crashes.",
    )
    parser.add_argument(
        "--target",
        action="append",
        choices=sorted(TARGETS),
        help="a target to run (repeatable; default: all of them)",
    )
    parser.add_argument("--seconds", type=int, default=10, help="seconds per target (10)")
    parser.add_argument("--work", type=Path, default=WORK, help=f"scratch directory ({WORK})")
    parser.add_argument("--json", action="store_true", help="print one JSON object per target")
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    args = parser.parse_args(argv)
    if args.list:
        for t in TARGETS.values():
            print(f"{t.name:15} {t.about}")
        return 0
    if args.seconds < 1:
        parser.error("--seconds must be at least 1")
    results = []
    for target in args.target or list(TARGETS):
        r = run_target(target, args.seconds, args.work)
        results.append(r)
        print(json.dumps(asdict(r)) if args.json else _line(r), flush=True)
    if not args.json:
        total = sum(r.executions for r in results)
        crashes = sum(r.crashes for r in results)
        print(f"{len(results)} targets, {total:,} executions, {crashes} crashes")
    return 1 if any(r.crashes for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
