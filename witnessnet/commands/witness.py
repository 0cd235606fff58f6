"""`witnessnet witness init|serve`: create and run a C2SP tlog-witness."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from functools import partial
from pathlib import Path

CONFIG_TEMPLATE = """\
# witnessnet witness configuration. Reference: `witnessnet witness serve --help`.
# Relative paths are relative to this file.

# The witness's name: the name in its key and in every cosignature line.
name = {name}
# Mode 0600 (anything looser is refused). Or keep the key in an ssh-agent:
# key_file = "ssh-agent:SHA256:<fingerprint from ssh-add -l>"
key_file = "witness.key"
# The state database. Never delete it: it is what stops logs from rolling back.
database = "witness.db"
# HOST:PORT to serve on; port 0 picks a free port. Use [::1]:7380 for IPv6.
listen = "127.0.0.1:7380"

# Optional: witness-network logs/v0 lists, as files (read at startup) or URLs
# (fetched at startup, then every log_list_interval seconds). Logs from lists are
# only ever added, never removed or re-keyed.
# log_lists = ["https://example.org/log-list.1", "lists/extra.txt"]
# log_list_interval = 3600

# Optional: seconds between polls of each log's url (jittered; default 30).
# poll_interval = 30

# One [[logs]] table per log to witness.
# [[logs]]
# origin = "example.com/log"                          # the checkpoint's first line
# vkeys = ["example.com/log+01234567+AbCd..."]        # one or more log keys
# qpd = 86400                                         # optional: requests/day budget
# url = "https://example.com/log/"                    # optional: pull checkpoints
# kind = "tiles"        # what url serves: tiles, ct, static-ct, ccf or scitt

# Optional: gossip with the other witnesses of a network file (docs/gossip.md).
# [gossip]
# network_file = "network.txt"
# interval_seconds = 10

# Optional: where alerts go; by default JSON lines on stderr (docs/alerts.md).
# [alerts]
# webhooks = ["https://alerts.example.com/hook"]

# Optional: a key rotation; key_file is the new key (docs/witness.md, Key rotation).
# [rotation]
# previous_key_file = "old.key"
# until = 2026-12-01T00:00:00Z

# Optional: abuse limits (defaults shown; docs/witness.md, Limits).
# [limits]
# client_requests_per_second = 20
# client_burst = 100
# max_inflight = 32
# max_queue = 128
# header_timeout_seconds = 10
"""

ORDER = 60


def cmd_init(args: argparse.Namespace) -> int:
    from tlog.cosignature import CosignatureV1Signer
    from tlog.errors import TlogError
    from tlog.keys import generate_signer
    from tlog.note import is_valid_key_name
    from witness.errors import StoreError
    from witness.store import create_database
    from witnessnet.commands.key import write_key_file

    directory = Path(args.dir)
    if not is_valid_key_name(args.name):
        print(f"error: {args.name!r} is not a valid key name (no spaces, no '+')", file=sys.stderr)
        return 2
    key_path, db_path, config_path = (
        directory / n for n in ("witness.key", "witness.db", "witness.toml")
    )
    existing = [str(p) for p in (key_path, db_path, config_path) if p.exists()]
    if existing:
        print(f"error: refusing to overwrite {', '.join(existing)}", file=sys.stderr)
        return 2
    try:
        directory.mkdir(parents=True, exist_ok=True)
        signer = generate_signer(args.name)
        write_key_file(key_path, signer)
        create_database(db_path)
        config_path.write_text(CONFIG_TEMPLATE.format(name=json.dumps(args.name)), encoding="utf-8")
    except (OSError, TlogError, StoreError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"created {key_path} (mode 0600), {db_path} and {config_path}")
    print(f"witness vkey (cosignature/v1, type 0x04): {CosignatureV1Signer(signer).vkey()}")
    print(f"witness vkey (Ed25519, type 0x01):        {signer.vkey()}")
    print(f"next: add logs to {config_path}, then: witnessnet witness serve --config {config_path}")
    return 0


async def _serve(args: argparse.Namespace) -> None:
    import trio

    from witness.config import load_config
    from witness.daemon import run_witness
    from witnessnet.witnessd import extension, load_alerts

    config = load_config(args.config)
    extend = extension(config, load_alerts(config))
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:

        async def shutdown_trigger() -> None:
            async for signum in signals:
                logging.getLogger("witness").info(
                    "shutting down", extra={"signal": signal.Signals(signum).name}
                )
                return

        async with trio.open_nursery() as nursery:
            witness, binds = await nursery.start(
                partial(
                    run_witness,
                    config,
                    init=args.init,
                    shutdown_trigger=shutdown_trigger,
                    extend=extend,
                )
            )
            url = binds[0]
            port = int(url.rsplit(":", 1)[1])
            ready = {
                "event": "listening",
                "url": url,
                "port": port,
                "pid": os.getpid(),
                "witness": witness.name,
                "vkey": witness.signer.vkey(),
                "logs": len(witness.registry),
                "time": time.time(),
            }
            print(json.dumps(ready), flush=True)


def cmd_serve(args: argparse.Namespace) -> int:
    import trio

    from gossip.errors import GossipStateError
    from witness.errors import ConfigError, StoreError
    from witnessnet.alerts import OutboxError
    from witnessnet.commands.log import expected_errors
    from witnessnet.jsonlog import setup_logging

    # The store's writer thread retakes the GIL from a busy event loop several times per
    # commit; at the default 5 ms switch interval that halves durable throughput.
    sys.setswitchinterval(0.001)
    setup_logging(args.log_level)
    status = 0
    try:
        trio.run(_serve, args)
    except* (ConfigError, StoreError, GossipStateError, OutboxError, OSError) as group:
        for e in expected_errors(group, (Exception,)):
            print(f"error: {e}", file=sys.stderr)
        status = 2
    return status


SERVE_HELP = """\
Run the witness: C2SP tlog-witness add-checkpoint plus read endpoints.

Endpoints:
  POST /add-checkpoint                 the log sends `old N`, a consistency proof
                                       and its new checkpoint; gets cosignature lines
  GET  /<hex sha256(origin)>/checkpoint latest checkpoint with this witness's cosignature
                                       (with [gossip]: with every cosignature it knows)
  GET  /logs (JSON), GET / (HTML), GET /healthz, GET /metrics (Prometheus)
  GET  /witness.v0.json                name, URLs, cosigning vkeys, software version
  POST /gossip/v1, GET /evidence[/<fingerprint>]   with [gossip] (docs/gossip.md)

When it is listening it prints one JSON line on stdout, e.g.
  {"event": "listening", "url": "http://127.0.0.1:7380", "port": 7380, ...}
(with the real port when the config says port 0). Logs are JSON lines on stderr.
SIGINT or SIGTERM stops it cleanly. Every accepted checkpoint is committed to the
database (fsync) before its cosignature is sent.

The database must exist: create it with `witnessnet witness init`, or pass
--init once for a new witness. A missing database is refused because a witness
that forgot its state could be made to cosign a log's rollback.

Config file (TOML):
  name = "example.com/witness"
  key_file = "witness.key"                  # mode 0600; or "ssh-agent:SHA256:<fingerprint>"
  database = "witness.db"
  listen = "127.0.0.1:7380"
  log_lists = ["https://example.org/log-list.1", "lists/extra.txt"]  # optional
  log_list_interval = 3600                  # optional: seconds between list URL fetches
  poll_interval = 30                        # optional: seconds between url polls
  [[logs]]
  origin = "example.com/log"
  vkeys = ["example.com/log+01234567+Ab..."]
  qpd = 86400                               # optional
  url = "https://example.com/log/"          # optional: a feeder pulls checkpoints from it
  kind = "tiles"                            # optional: tiles | ct | static-ct | ccf | scitt
  [gossip]                                  # optional (docs/gossip.md)
  network_file = "network.txt"              # the witnesses to gossip with
  interval_seconds = 10                     # optional: mean seconds between exchanges
  [alerts]                                  # optional (docs/alerts.md)
  webhooks = ["https://alerts.example.com/hook"]
  [rotation]                                # optional: the previous key also cosigns
  previous_key_file = "old.key"             # a file or "ssh-agent:..."
  until = 2026-12-01T00:00:00Z              # when it stops
  [limits]                                  # optional: abuse limits (docs/witness.md)
  client_requests_per_second = 20           # per remote address (loopback exempt)

Alerts are kept in an outbox beside the database (witness.alerts.db) and gossip
state in witness.gossip.db.

Logs with a url are followed by a feeder: it polls the log's signed head (a
tlog-tiles checkpoint, a CT STH, a CCF or SCITT signed root, each as a checkpoint
note) and advances through the same checks as add-checkpoint, with the consistency
proof read from the ledger. Log lists only ever add logs. See docs/witness.md.

Example:
  witnessnet witness init --dir /var/lib/witness --name example.com/witness
  witnessnet witness serve --config /var/lib/witness/witness.toml
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "witness",
        help="create and run a transparency log witness (C2SP tlog-witness)",
        description="A witness cosigns a log's checkpoints after checking it only ever grows.",
    )
    ws = p.add_subparsers(dest="witness_command", metavar="ACTION", required=True)
    i = ws.add_parser(
        "init",
        help="create a witness key, an empty database and a config file",
        description=(
            "Create DIR/witness.key (mode 0600), an empty DIR/witness.db and a commented\n"
            "DIR/witness.toml; print the witness's vkeys. Existing files are never\n"
            "overwritten. Give logs the type 0x04 vkey (cosignature/v1); some tools want\n"
            "the plain type 0x01 one, which names the same key. Example:\n"
            "  witnessnet witness init --dir ./w1 --name example.com/witness"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    i.add_argument("--dir", required=True, help="directory for the three files (created)")
    i.add_argument("--name", required=True, help="witness name, e.g. example.com/witness")
    i.set_defaults(func=cmd_init)
    s = ws.add_parser(
        "serve",
        help="run the witness daemon",
        description=SERVE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("--config", required=True, help="the witness.toml file")
    s.add_argument(
        "--init",
        action="store_true",
        help="this witness is new: create the database if it is missing",
    )
    s.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="stderr log level; debug logs every request (default: info)",
    )
    s.set_defaults(func=cmd_serve)
