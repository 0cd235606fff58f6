"""`witnessnet log serve`: run the reference tlog-tiles log (tlog.reflog) over HTTP."""

from __future__ import annotations

import argparse
import json
import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tlog.errors import TlogError
from tlog.reflog.defaults import DEFAULT_WITNESS_TIMEOUT

if TYPE_CHECKING:
    import trio

    from tlog.reflog.server import ServeConfig

logger = logging.getLogger("witnessnet.log")

DESCRIPTION = """\
Serve a transparency log in the C2SP tlog-tiles layout, sequencing entries posted to it.

HTTP API (on --listen):
  GET  /checkpoint                the signed checkpoint (C2SP tlog-checkpoint), never cached
  GET  /tile/<L>/<N>[.p/<W>]      hash tiles; full ones cached as immutable
  GET  /tile/entries/<N>[.p/<W>]  entry bundles (gzip when accepted)
  POST /add                       body = one entry (1 to 65535 bytes; 413 above);
                                  answers its decimal index once the checkpoint that
                                  includes it is published; 503 when too many wait

Entries are batched (every --batch-interval seconds or --batch-size entries). Each batch
is journaled, its tiles and bundles written and fsynced, and only then the new checkpoint
renamed into place, so DIR is always a consistent static log that any web server can
serve as-is; a restart (even after kill -9) continues from it.

Witnesses: with --witness URL --witness-vkey VKEY (repeatable; the Nth URL goes with the
Nth vkey), every new checkpoint is pushed to each witness at once (C2SP tlog-witness
add-checkpoint, with consistency proofs from the log's tiles), and GET /checkpoint then
serves it with the cosignature lines the witnesses returned within --witness-timeout
seconds. A witness that is down or slow never holds up sequencing: it misses that
checkpoint and is asked again with the next one.

Split-view drill: with --fork-at N --fork-listen ADDR, a second listener serves DIR/fork,
a log with the same key and origin that holds the same first N entries and then the main
log's entries prefixed with b"fork:", plus whatever is POSTed to its own /add. The two
listeners then serve verifiably inconsistent checkpoints, for witnesses to catch.

Certificate Transparency: with --ct-key PEM (an ECDSA P-256 private key, e.g. from
`openssl ecparam -name prime256v1 -genkey -noout -out ct.pem`), the same tree is also served
through the RFC 6962 read API, its heads signed with that key: GET /ct/v1/get-sth,
/ct/v1/get-sth-consistency, /ct/v1/get-entries (at most --ct-max-batch entries per answer)
and /ct/v1/get-proof-by-hash. POST MerkleTreeLeaf bytes to /add to log certificates; the
listening line then also has "ct_vkey", the type 0x05 vkey (named by --origin) to follow it.

Output: once listening, one JSON line on stdout:
  {"event": "listening", "url": ..., "origin": ..., "vkey": ..., "size": ...
   [, "fork_url": ..., "fork_at": ...]}
Port 0 picks a free port; the line has the real one. Logs are JSON lines on stderr.
SIGINT/SIGTERM finish the requests in flight and exit 0 (a second signal exits at once);
exit 1 when the log cannot run (the error is in the last stderr line), 2 on bad arguments.

Example:
  witnessnet key generate --name example.com/log --out log.key
  witnessnet log serve --dir ./log --key log.key --origin example.com/log \\
      --listen 127.0.0.1:8080
  curl --data-binary 'hello' http://127.0.0.1:8080/add
  curl http://127.0.0.1:8080/checkpoint
"""

ORDER = 40


def address(value: str) -> str:
    """HOST:PORT with a port in 0..65535 (IPv6 hosts in brackets)."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not HOST:PORT, e.g. 127.0.0.1:8080")
    return value


def positive_int(value: str) -> int:
    if not value.isdigit() or int(value) == 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive integer")
    return int(value)


def origin(value: str) -> str:
    """A checkpoint origin: a non-empty line without control characters."""
    if not value or any(ord(c) < 0x20 or c == "\x7f" for c in value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a checkpoint origin line")
    return value


def size(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not a tree size (a decimal number)")
    return int(value)


def url(value: str) -> str:
    """An http(s) URL."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"{value!r} is not an http(s) URL")
    return value


def positive_float(value: str) -> float:
    try:
        f = float(value)
    except ValueError:
        f = 0.0
    if not 0 < f < 3600:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds in (0, 3600)")
    return f


def print_event(event: dict[str, Any]) -> None:
    print(json.dumps(event), flush=True)


async def _watch_signals(stop: trio.Event, scope: trio.CancelScope) -> None:
    import trio

    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            logger.info("signal", extra={"signal": signal.Signals(signum).name})
            if stop.is_set():
                scope.cancel()
            stop.set()


async def _run(config: ServeConfig) -> None:
    import trio

    from tlog.reflog.server import serve

    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_watch_signals, stop, nursery.cancel_scope)
        await serve(config, stop=stop, on_listening=print_event)
        nursery.cancel_scope.cancel()


def cmd_serve(args: argparse.Namespace) -> int:
    import trio

    from tlog.reflog.cosigning import WitnessTarget
    from tlog.reflog.server import ServeConfig
    from witnessnet.commands.key import load_key_file
    from witnessnet.jsonlog import setup_logging

    setup_logging()
    if (args.fork_at is None) != (args.fork_listen is None):
        logger.error("usage", extra={"error": "--fork-at and --fork-listen go together"})
        return 2
    if len(args.witness) != len(args.witness_vkey):
        error = (
            f"{len(args.witness)} --witness but {len(args.witness_vkey)} --witness-vkey: "
            "give one vkey per witness URL, in the same order"
        )
        logger.error("usage", extra={"error": error})
        return 2
    try:
        signer = load_key_file(args.key)
    except (TlogError, OSError) as e:
        logger.error("usage", extra={"error": f"{args.key}: {e}"})
        return 2
    ct_signer = None
    if args.ct_key is not None:
        from tlog.ct.sth import load_ct_signer

        try:
            ct_signer = load_ct_signer(args.origin, Path(args.ct_key).read_bytes())
        except (TlogError, OSError) as e:
            logger.error("usage", extra={"error": f"--ct-key {args.ct_key}: {e}"})
            return 2
    try:
        witnesses = tuple(
            WitnessTarget(u, v) for u, v in zip(args.witness, args.witness_vkey, strict=True)
        )
    except TlogError as e:
        logger.error("usage", extra={"error": f"--witness-vkey: {e}"})
        return 2
    config = ServeConfig(
        directory=Path(args.dir),
        signer=signer,
        origin=args.origin,
        listen=args.listen,
        batch_interval=args.batch_interval,
        batch_size=args.batch_size,
        max_pending=args.max_pending,
        fork_at=args.fork_at,
        fork_listen=args.fork_listen,
        witnesses=witnesses,
        witness_timeout=args.witness_timeout,
        ct_signer=ct_signer,
        ct_max_batch=args.ct_max_batch,
    )
    try:
        trio.run(_run, config)
    except BaseExceptionGroup as group:
        for e in expected_errors(group, (TlogError, OSError)):
            logger.error("stopped", extra={"error": str(e)})
        return 1
    logger.info("stopped")
    return 0


def expected_errors(
    group: BaseExceptionGroup, types: tuple[type[Exception], ...]
) -> list[BaseException]:
    """The leaves of an exception group from trio.run, if all are of types; else re-raise it."""
    if group.split(types)[1] is not None:
        raise group
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        e = pending.pop(0)
        if isinstance(e, BaseExceptionGroup):
            pending += e.exceptions
        else:
            leaves.append(e)
    return leaves


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "log",
        help="run the reference tlog-tiles log",
        description="The reference transparency log (C2SP tlog-tiles).",
    )
    ls = p.add_subparsers(dest="log_command", metavar="ACTION", required=True)
    s = ls.add_parser(
        "serve",
        help="serve a tlog-tiles log from a directory and sequence POSTed entries",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("--dir", required=True, help="log directory (created if missing)")
    s.add_argument("--key", required=True, help="Ed25519 key file (witnessnet key generate)")
    s.add_argument(
        "--origin", required=True, type=origin, help="checkpoint origin, e.g. example.com/log"
    )
    s.add_argument("--listen", required=True, type=address, help="HOST:PORT, e.g. 127.0.0.1:0")
    s.add_argument(
        "--batch-interval",
        type=positive_float,
        default=1.0,
        metavar="SECONDS",
        help="longest wait before a batch is sequenced (default 1)",
    )
    s.add_argument(
        "--batch-size",
        type=positive_int,
        default=256,
        metavar="N",
        help="sequence at once when N entries wait (default 256)",
    )
    s.add_argument(
        "--max-pending",
        type=positive_int,
        default=4096,
        metavar="N",
        help="refuse /add with 503 while N entries wait (default 4096)",
    )
    s.add_argument(
        "--fork-at", type=size, metavar="N", help="split-view drill: fork after N entries"
    )
    s.add_argument("--fork-listen", type=address, metavar="ADDR", help="HOST:PORT of the fork")
    s.add_argument(
        "--witness",
        type=url,
        action="append",
        default=[],
        metavar="URL",
        help="a witness to push checkpoints to (repeatable; pairs with --witness-vkey)",
    )
    s.add_argument(
        "--witness-vkey",
        action="append",
        default=[],
        metavar="VKEY",
        help="the cosigner vkey of the witness given at the same position",
    )
    s.add_argument(
        "--witness-timeout",
        type=positive_float,
        default=DEFAULT_WITNESS_TIMEOUT,
        metavar="SECONDS",
        help=f"wait at most this long for each witness (default {DEFAULT_WITNESS_TIMEOUT:g})",
    )
    s.add_argument(
        "--ct-key",
        metavar="PEM",
        help="also serve the RFC 6962 CT API, heads signed by this ECDSA P-256 key",
    )
    s.add_argument(
        "--ct-max-batch",
        type=positive_int,
        default=64,
        metavar="N",
        help="most entries one /ct/v1/get-entries answer holds (default 64)",
    )
    s.set_defaults(func=cmd_serve)
