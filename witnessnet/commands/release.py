"""`witnessnet release verify`: is this firmware digest the latest authorised release in a log?"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.release_verify import Verdict

DESCRIPTION = """\
Binary transparency for relying parties: check that a firmware digest is in a transparency
log under a checkpoint that meets the witness policy (or the log key alone, without
--policy), that an entry releasing it for COMPONENT is signed by at least --threshold of the
--signer keys, and that no authorised release of COMPONENT has a higher version.

Downloads every entry of the log and verifies that they hash to the checkpoint's root;
reads firmware manifests (Armored Witness JSON) and witnessnet release claims.
Prints one JSON object: ok, reason, the checkpoint, the matching entry's index, version and
inclusion proof, and the latest authorised release.
Exit 0 verified; 1 not in the log, not authorised, or superseded; 2 the log could not be
read or verified, or bad arguments.
"""

ORDER = 110


def cmd_verify(args: argparse.Namespace) -> int:
    import httpx
    import trio

    from monitor.errors import MonitorError
    from monitor.release_verify import verify_release
    from monitor.rules import Signers
    from tlog.errors import TlogError
    from tlog.keys import parse_vkey
    from tlog.policy import parse_policy

    digest = args.digest.lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        print("error: --digest must be 64 hex digits (SHA-256)", file=sys.stderr)
        return 2
    try:
        log_key = parse_vkey(args.log_vkey)
        keys = tuple(parse_vkey(v) for v in args.signer)
        policy = None
        if args.policy:
            with open(args.policy, "rb") as f:
                policy = parse_policy(f.read())
    except (TlogError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not 1 <= args.threshold <= len(keys):
        print(f"error: --threshold must be 1..{len(keys)}", file=sys.stderr)
        return 2

    async def run() -> Verdict:
        async with httpx.AsyncClient(timeout=args.timeout) as http:
            return await verify_release(
                http,
                url=args.log,
                log_key=log_key,
                origin=args.origin or log_key.name,
                component=args.component,
                digest=digest,
                signers=Signers(args.component, keys, threshold=args.threshold),
                policy=policy,
                checkpoints=tuple(args.checkpoint),
                timeout=args.timeout,
            )

    try:
        verdict = trio.run(run)
    except (MonitorError, TlogError, httpx.HTTPError, OSError) as e:
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    print(json.dumps(_describe(verdict), indent=1))
    return 0 if verdict.ok else 1


def _describe(verdict: Verdict) -> dict[str, object]:
    cp = verdict.checkpoint
    out: dict[str, object] = {
        "ok": verdict.ok,
        "reason": verdict.reason,
        "checkpoint": cp.note.to_bytes().decode("utf-8"),
        "cosigners": sorted(cp.cosigners),
    }
    if verdict.match is not None:
        out["entry"] = {
            "index": verdict.match.index,
            "version": verdict.match.claim.version,
            "inclusion_proof": [base64.b64encode(h).decode() for h in verdict.proof],
        }
    if verdict.latest is not None:
        out["latest"] = {"index": verdict.latest.index, "version": verdict.latest.claim.version}
    return out


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "release",
        help="relying-party checks of firmware releases (binary transparency)",
        description="Binary transparency checks for relying parties.",
    )
    rs = p.add_subparsers(dest="release_command", metavar="ACTION", required=True)
    v = rs.add_parser(
        "verify",
        help="check a digest is the latest authorised release in a cosigned log",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    v.add_argument("--policy", help="C2SP tlog-policy file: the witness quorum to require")
    add_release_arguments(v, required=True)
    v.set_defaults(func=cmd_verify)


RELEASE_ARGUMENTS = ("digest", "component", "log", "log_vkey", "signer")


def add_release_arguments(v: argparse.ArgumentParser, required: bool) -> None:
    """The release-check options; `witnessnet verify --release` shares them (not required there,
    where the handler checks them)."""
    v.add_argument("--digest", required=required, help="SHA-256 of the firmware (hex)")
    v.add_argument("--component", required=required, help="the component, e.g. TRUSTED_OS")
    v.add_argument("--log", required=required, help="the log's tlog-tiles base URL")
    v.add_argument("--log-vkey", required=required, help="the log's verifier key")
    v.add_argument("--origin", help="checkpoint origin (default: the log key's name)")
    v.add_argument(
        "--checkpoint", action="append", default=[], metavar="URL",
        help="another source of cosigned checkpoints (repeatable)",
    )  # fmt: skip
    v.add_argument(
        "--signer", action="append", required=required, metavar="VKEY",
        help="a key authorised to sign releases of the component (repeatable)",
    )  # fmt: skip
    v.add_argument("--threshold", type=int, default=1, help="signatures required (default 1)")
    v.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
