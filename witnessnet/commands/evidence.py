"""`witnessnet evidence verify`: check an evidence file offline (docs/evidence-format.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tlog.errors import TlogError

EXIT_PROOF, EXIT_NOT_PROOF, EXIT_MALFORMED = 0, 1, 2

ORDER = 70


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    return Path(path).read_bytes()


def cmd_verify(args: argparse.Namespace) -> int:
    from gossip.errors import MalformedEvidenceError, NotProofError
    from gossip.evidence import verify_evidence
    from tlog.cosignature import parse_cosigner_vkey
    from tlog.keys import parse_vkey

    try:
        log_verifiers = [parse_vkey(v) for v in args.log_vkey]
        witness_verifiers = [parse_cosigner_vkey(v) for v in args.witness_vkey]
        data = _read(args.file)
    except (TlogError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_MALFORMED
    try:
        verified = verify_evidence(data, log_verifiers, witness_verifiers)
    except MalformedEvidenceError as e:
        print(f"error: {args.file} is not a valid evidence file: {e}", file=sys.stderr)
        return EXIT_MALFORMED
    except NotProofError as e:
        print(f"rejected: {e}", file=sys.stderr)
        return EXIT_NOT_PROOF
    print(verified.explain())
    return EXIT_PROOF


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evidence",
        help="verify evidence of log or witness misbehaviour",
        description="Evidence files prove, to anyone holding the log's public key, that a log "
        "forked its history or that a witness cosigned both sides of a fork "
        "(docs/evidence-format.md).",
    )
    es = p.add_subparsers(dest="evidence_command", metavar="ACTION", required=True)
    v = es.add_parser(
        "verify",
        help="verify an evidence file offline",
        description=(
            "Verify an evidence file offline. Exit 0 only for genuine proof, and print a "
            "paragraph saying what it proves. Exit 1 with the reason on stderr when the file "
            "is well formed but proves nothing: a signature does not verify with the keys "
            "given, the checkpoints are consistent, or the file is a suspicion record (a "
            "witness's signed report that a log did not produce a proof, which a slow log "
            "also causes). Exit 2 when the file or a key is malformed or unreadable."
        ),
    )
    v.add_argument("file", metavar="FILE", help="the evidence file ('-' for stdin)")
    v.add_argument(
        "--log-vkey", action="append", required=True, help="the log's verifier key (repeatable)"
    )
    v.add_argument(
        "--witness-vkey",
        action="append",
        default=[],
        help="a witness's vkey (type 0x01, 0x04 or 0x06; repeatable): needed for "
        "witness-equivocation files and to check a suspicion's signature",
    )
    v.set_defaults(func=cmd_verify)
