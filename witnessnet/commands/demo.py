"""`witnessnet demo`: a whole witness network on 127.0.0.1, two attacks, and who caught them.

The network and its steps live in witnessnet.demo; this module is the command line.
"""

from __future__ import annotations

import argparse
import sys

ORDER = 50

DESCRIPTION = """\
Start a witness network on 127.0.0.1, everything in a fresh temporary directory with
embedded SQLite: a reference log (`witnessnet log serve`, with a fork drill), 5 witnesses
gossiping with each other (`witnessnet witness serve`), and a monitor (`witnessnet
monitor run`) that follows the log's witnessnet release claims at the newest checkpoint
that 3 of the 5 witnesses cosigned. Every daemon sends its alerts to a webhook the demo
serves, so that pages can be counted.

Then:
  1. publish 8 signed releases; show their checkpoint cosigned by the witnesses and
     verified against the policy, and an inclusion proof;
  2. attack: log a release signed by a key nobody authorised; the monitor must page;
  3. attack: the log forks for w3 and w4 (same key and origin, a different history);
     gossip must produce evidence at every witness, freeze the log and page every
     witness's operator.

One progress line per step, then a summary table: what was detected, by whom, how fast
(seconds from the attack), and where the evidence is (files and URLs; check a fork's
with `witnessnet evidence verify FILE --log-vkey VKEY`).

Exit status: 0 only when both attacks were caught by every party that had to catch them;
1 when something was missed, a step failed or --timeout passed (the message says which);
130 when interrupted before the end. With --keep-running the network stays up after
the summary, with every daemon's URL printed, until Ctrl-C (SIGINT) or SIGTERM, which
stop every daemon and remove the directory (unless --keep-dir); the status is then the
demo's.
"""


def positive_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= 3600:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds in (0, 3600]")
    return seconds


def cmd_demo(args: argparse.Namespace) -> int:
    import trio

    from witnessnet.demo.run import Options, run_demo

    options = Options(args.timeout, args.keep_running, args.keep_dir)
    return int(trio.run(run_demo, options, sys.stdout))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run a local witness network, stage a fork and a rogue release, show who caught them",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--keep-running",
        action="store_true",
        help="leave the network up after the summary and print its URLs; Ctrl-C stops it",
    )
    p.add_argument(
        "--keep-dir",
        action="store_true",
        help="keep the temporary directory (configs, databases, evidence) after exit",
    )
    p.add_argument(
        "--timeout",
        type=positive_seconds,
        default=120.0,
        help="give up (exit 1) if the attacks are not all caught within this many seconds "
        "(default 120)",
    )
    p.set_defaults(func=cmd_demo)
